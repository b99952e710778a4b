package httpserver

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/pms-dapr/pms/platform/problem"
)

// ETag is the entity tag of version v of a resource.
func ETag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// IfMatch reads the version a change is based on from If-Match (an ETag,
// strong or weak). Without it the change is refused (428): every write
// must say what it overwrites; one that is no ETag of ours is 412.
func IfMatch(w http.ResponseWriter, r *http.Request) (int64, bool) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		problem.Write(w, r, problem.New(http.StatusPreconditionRequired, "Send If-Match with the ETag of the version you are changing."))
		return 0, false
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil || n < 1 {
		problem.Write(w, r, problem.New(http.StatusPreconditionFailed, "If-Match must be an ETag this API returned."))
		return 0, false
	}
	return n, true
}
