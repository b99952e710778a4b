package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pms-dapr/pms/tests/internal/wait"
)

// pgbackrest runs pgBackRest in the postgres pod's backup container, as
// the image's postgres user (docs/runbooks/restore.md).
func pgbackrest(args ...string) (string, error) {
	return kubectl(append([]string{"-n", namespace, "exec", "deploy/postgres", "-c", "backup", "--",
		"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "pgbackrest"}, args...)...)
}

// The in-cluster PostgreSQL archives its WAL and takes base backups to
// the dev object store, encrypted; a new pod, its data directory empty,
// restores from there to a time T (docs/runbooks/restore.md, "On the
// one-node cluster"): what was written before T is served, nothing written
// after. The data directory is an emptyDir, so whatever the new pod serves
// came from the object store. A second replacement, with no target,
// brings back everything archived. It runs last (its file sorts after the
// others'): the restore takes every database back to T.
func TestPostgresRestoresToATimeFromTheObjectStore(t *testing.T) {
	var info []struct {
		Status  struct{ Code int }
		Cipher  string
		Backup  []struct{ Type string }
		Archive []struct{ Max string }
	}
	wait.Until(t, 3*time.Minute, "pgbackrest info shows a full backup and archived WAL", func() error {
		out, err := pgbackrest("info", "--output=json")
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		if len(info) != 1 || len(info[0].Backup) == 0 || len(info[0].Archive) == 0 || info[0].Archive[0].Max == "" {
			return fmt.Errorf("not yet: %s", out)
		}
		return nil
	})
	assert.Equal(t, 0, info[0].Status.Code, "stanza ok")
	assert.Equal(t, "aes-256-cbc", info[0].Cipher)
	assert.Equal(t, "full", info[0].Backup[0].Type)

	token := adminToken(t)
	register := func(name string) string {
		t.Helper()
		r := mustCall(t, http.MethodPost, gateway+"/patients", token, map[string]string{
			"name": name, "email": fmt.Sprintf("restore.%d@example.com", time.Now().UnixNano()),
			"address": "1 Backup Lane", "dateOfBirth": "1969-07-20"})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		var p struct{ ID string }
		require.NoError(t, json.Unmarshal(r.body, &p))
		return p.ID
	}
	before := register("Before T Cluster")
	time.Sleep(100 * time.Millisecond)
	target := psql(t, "postgres", `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'`)
	time.Sleep(100 * time.Millisecond)
	after := register("After T Cluster")
	archived(t)

	setTarget(t, target)
	started := time.Now()
	replacePostgres(t, "restore: restoring to "+target)
	served(t, token, before)
	t.Logf("restored to T and serving %s after the pod was deleted", time.Since(started).Round(time.Second))
	r := mustCall(t, http.MethodGet, gateway+"/patients/"+after, token, nil)
	assert.Equal(t, http.StatusNotFound, r.status, "the patient written after T: %s", r.body)
	assert.Equal(t, "f", psql(t, "postgres", "SELECT pg_is_in_recovery()"), "promoted after the restore")
	assert.Equal(t, "0", psql(t, "patient", "SELECT count(*) FROM patients WHERE id = '"+after+"'"))

	// With no target, a lost pod's successor comes back with everything
	// archived, on the timeline the restore to T began.
	setTarget(t, "")
	lost := register("Lost Pod Cluster")
	archived(t)
	replacePostgres(t, "restore: restoring to the end of the archived WAL")
	served(t, token, lost)
	served(t, token, before)
}

// archived forces the WAL segment being written out and waits until the
// repository has it.
func archived(t *testing.T) {
	t.Helper()
	segment := psql(t, "postgres", `SELECT pg_walfile_name(pg_switch_wal())`)
	wait.Until(t, time.Minute, "the last WAL segment is archived", func() error {
		if last := psql(t, "postgres", `SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver`); last < segment {
			return fmt.Errorf("last archived %q, want %q", last, segment)
		}
		return nil
	})
}

// setTarget sets RESTORE_TARGET in the pgbackrest ConfigMap (empty: the end
// of the archived WAL), and clears it when the test ends.
func setTarget(t *testing.T, target string) {
	t.Helper()
	patch := func(v string) {
		mustKubectl(t, "-n", namespace, "patch", "configmap", "pgbackrest", "-p", `{"data":{"RESTORE_TARGET":"`+v+`"}}`)
	}
	patch(target)
	t.Cleanup(func() { patch("") })
}

// replacePostgres deletes the postgres pod and waits for its successor,
// whose restore container must have logged want.
func replacePostgres(t *testing.T, want string) {
	t.Helper()
	mustKubectl(t, "-n", namespace, "delete", "pod", "-l", "app.kubernetes.io/name=postgres", "--grace-period=10", "--wait=true")
	mustKubectl(t, "-n", namespace, "rollout", "status", "deployment/postgres", "--timeout=5m")
	logs := mustKubectl(t, "-n", namespace, "logs", "deployment/postgres", "-c", "restore")
	require.Contains(t, logs, want)
}

// served waits until the gateway serves patient id (the apps reconnect to
// the new server by themselves).
func served(t *testing.T, token, id string) {
	t.Helper()
	wait.Until(t, 3*time.Minute, "patient "+id+" is served", func() error {
		r, err := call(http.MethodGet, gateway+"/patients/"+id, token, nil)
		if err != nil {
			return err
		}
		if r.status != http.StatusOK {
			return fmt.Errorf("status %d: %s", r.status, r.body)
		}
		return nil
	})
}
