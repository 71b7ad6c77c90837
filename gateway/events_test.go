package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sta-federation/sta-gateway/gateway/api"
)

// TestEventsEndForAnEndedJob: the event stream of an ended job gives its
// events and ends; a client that reconnects after the last one (as an
// EventSource does) gets 204, which tells it to stop, not a stream that never
// ends.
func TestEventsEndForAnEndedJob(t *testing.T) {
	_, srv := siteless(t)
	st, _, b := call(t, srv, "POST", "/v1/jobs", "alice", api.SubmitRequest{Script: "#!/bin/sh\nhostname\n", Project: "climate"})
	var j api.Job
	if st != 201 || json.Unmarshal(b, &j) != nil || j.State != api.StateRejected {
		t.Fatalf("submit: %d %s", st, b)
	}
	events := func(lastID string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/jobs/"+j.ID+"/events", nil)
		req.Header.Set(api.HeaderAuthorization, "Bearer "+testToken)
		req.Header.Set(api.HeaderActAs, "alice")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body) // ends: the job has ended
		return resp.StatusCode, string(body)
	}
	code, body := events("")
	ids := regexp.MustCompile(`(?m)^id: (\d+)$`).FindAllStringSubmatch(body, -1)
	if code != 200 || len(ids) == 0 || !strings.Contains(body, `"REJECTED"`) {
		t.Fatalf("events: %d %q", code, body)
	}
	last := ids[len(ids)-1][1]
	if code, body := events(last); code != http.StatusNoContent || body != "" {
		t.Errorf("reconnect after the last event %s: %d %q; want 204", last, code, body)
	}
}
