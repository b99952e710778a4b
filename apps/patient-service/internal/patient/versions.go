package patient

import (
	"context"
	"strconv"
)

// Version is one stored version of a patient record: the record as that
// change left it, and the change (ActionCreate, ActionUpdate, ActionPatch
// or ActionDelete). Every change stores its version in its transaction,
// beside its audit entry, and versions are never changed.
type Version struct {
	Patient Patient
	Action  string
}

// Deleted reports whether this version is the record's deletion.
func (v Version) Deleted() bool { return v.Action == ActionDelete }

// AnyVersion as an ifMatch lets Delete remove whatever version is current
// (FHIR's delete names no version).
const AnyVersion int64 = -1

// ReadVersion returns version v of patient id: ErrGone when that version
// is the deletion, ErrNotFound when there is no such version. Versions of a
// deleted record are for admins, as deleted records are. The read is
// audited; if it cannot be, nothing is disclosed.
func (s *Service) ReadVersion(ctx context.Context, a Actor, id string, v int64) (Version, error) {
	ver, err := s.version(ctx, a, id, v)
	e := a.outcome(a.entry(ActionReadVersion, s.clock(), id), err)
	e.Detail = "version=" + strconv.FormatInt(v, 10)
	if aerr := s.store.RecordAudit(ctx, e); aerr != nil {
		return Version{}, wrap("patient.read_version", aerr)
	}
	return ver, err
}

func (s *Service) version(ctx context.Context, a Actor, id string, v int64) (Version, error) {
	if err := s.historyVisible(ctx, a, id); err != nil {
		return Version{}, err
	}
	ver, err := s.store.GetVersion(ctx, id, v)
	if err != nil {
		return Version{}, wrap("patient.read_version", err)
	}
	if ver.Deleted() {
		return ver, ErrGone
	}
	return ver, nil
}

// History returns up to limit versions of patient id older than version
// before (0: from the newest), newest first, the deletion included. It is
// audited like a read.
func (s *Service) History(ctx context.Context, a Actor, id string, before int64, limit int) ([]Version, error) {
	var vs []Version
	err := s.historyVisible(ctx, a, id)
	if err == nil {
		vs, err = s.store.Versions(ctx, id, before, limit)
		err = wrap("patient.history", err)
	}
	if aerr := s.store.RecordAudit(ctx, a.outcome(a.entry(ActionHistory, s.clock(), id), err)); aerr != nil {
		return nil, wrap("patient.history", aerr)
	}
	return vs, err
}

// historyVisible says whether a may see the versions of patient id: it
// must exist, and once deleted only admins see its past.
func (s *Service) historyVisible(ctx context.Context, a Actor, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return wrap("patient.history", err)
	}
	if p.Deleted() && a.Role != RoleAdmin {
		return ErrGone
	}
	return nil
}
