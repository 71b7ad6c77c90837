package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sta-federation/sta-gateway/gateway/api"
	"github.com/sta-federation/sta-gateway/gateway/client"
)

func Example() {
	// A stand-in for the gateway: it accepts every job.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(api.Job{ID: "j-42", State: api.StatePending, Site: "ca-hydro", SiteJobID: "1234"})
	}))
	defer srv.Close()

	c, err := client.New(srv.URL, client.Options{Token: "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	job, err := c.Submit(context.Background(), api.SubmitRequest{
		Script:  "#!/bin/bash\n#SBATCH --nodes=1\nsrun hostname\n",
		Project: "climate-ca",
	})
	switch {
	case errors.Is(err, client.ErrUnreachable):
		fmt.Println("gateway down:", err)
	case api.ErrorCode(err) == api.CodeInsufficient:
		fmt.Println("allocation too small:", err)
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(job.ID, job.State, job.Site, job.SiteJobID)
	}
	// Output: j-42 PENDING ca-hydro 1234
}
