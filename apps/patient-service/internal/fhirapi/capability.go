package fhirapi

import (
	"net/http"

	"github.com/pms-dapr/pms/platform/fhir"
)

// capabilityDate is when the CapabilityStatement last changed.
const capabilityDate = "2026-12-03"

type capabilityStatement struct {
	ResourceType   string            `json:"resourceType"`
	Status         string            `json:"status"`
	Date           string            `json:"date"`
	Publisher      string            `json:"publisher"`
	Kind           string            `json:"kind"`
	Software       map[string]string `json:"software"`
	Implementation map[string]string `json:"implementation"`
	FHIRVersion    string            `json:"fhirVersion"`
	Format         []string          `json:"format"`
	Rest           []capabilityRest  `json:"rest"`
}

type capabilityRest struct {
	Mode     string               `json:"mode"`
	Security capabilitySecurity   `json:"security"`
	Resource []capabilityResource `json:"resource"`
}

type capabilitySecurity struct {
	CORS        bool              `json:"cors"`
	Service     []CodeableConcept `json:"service"`
	Description string            `json:"description"`
}

type capabilityResource struct {
	Type              string              `json:"type"`
	Profile           string              `json:"profile"`
	SupportedProfile  []string            `json:"supportedProfile"`
	Interaction       []map[string]string `json:"interaction"`
	Versioning        string              `json:"versioning"`
	ReadHistory       bool                `json:"readHistory"`
	UpdateCreate      bool                `json:"updateCreate"`
	ConditionalCreate bool                `json:"conditionalCreate"`
	ConditionalRead   string              `json:"conditionalRead"`
	ConditionalUpdate bool                `json:"conditionalUpdate"`
	ConditionalDelete string              `json:"conditionalDelete"`
	SearchParam       []capabilityParam   `json:"searchParam"`
}

type capabilityParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Type          string `json:"type"`
	Documentation string `json:"documentation"`
}

// capability is the server's CapabilityStatement: what docs/fhir.md
// describes, for machines.
func capability(base string) capabilityStatement {
	params := make([]capabilityParam, len(Params))
	for i, p := range Params {
		params[i] = capabilityParam{Name: p.Name, Definition: p.Definition, Type: p.Type, Documentation: p.Doc}
	}
	interactions := []map[string]string{}
	for _, code := range []string{"read", "vread", "update", "delete", "history-instance", "create", "search-type"} {
		interactions = append(interactions, map[string]string{"code": code})
	}
	return capabilityStatement{
		ResourceType:   "CapabilityStatement",
		Status:         "active",
		Date:           capabilityDate,
		Publisher:      "Patient Management System",
		Kind:           "instance",
		Software:       map[string]string{"name": "Patient Management System"},
		Implementation: map[string]string{"description": "Patient registry, FHIR R4 API", "url": base},
		FHIRVersion:    "4.0.1",
		Format:         []string{"json", "application/fhir+json"},
		Rest: []capabilityRest{{
			Mode: "server",
			Security: capabilitySecurity{
				CORS: true,
				Service: []CodeableConcept{{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service",
					Code: "OAuth", Display: "OAuth"}}}},
				Description: "Send Authorization: Bearer <access token> from POST /auth/login (the same tokens and roles as the JSON API). This statement is public.",
			},
			Resource: []capabilityResource{{
				Type:              "Patient",
				Profile:           "http://hl7.org/fhir/StructureDefinition/Patient",
				SupportedProfile:  []string{"http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"},
				Interaction:       interactions,
				Versioning:        "versioned-update",
				ReadHistory:       true,
				UpdateCreate:      false,
				ConditionalCreate: true,
				ConditionalRead:   "not-supported",
				ConditionalUpdate: false,
				ConditionalDelete: "not-supported",
				SearchParam:       params,
			}},
		}},
	}
}

// metadata answers the CapabilityStatement (public: clients read it before
// they sign in).
func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	fhir.Write(w, http.StatusOK, capability(h.base(r)))
}
