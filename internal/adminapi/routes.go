package adminapi

import (
	"net/http"

	"github.com/parleyhq/parley/internal/admin"
	"github.com/parleyhq/parley/internal/directory"
)

// PasswordRequest is the body of PUT /users/{uri}/password.
type PasswordRequest struct {
	Password string `json:"password"`
}

// PINRequest is the body of PUT /users/{uri}/pin.
type PINRequest struct {
	PIN string `json:"pin"`
}

// routes registers every endpoint. Paths are relative to Prefix; path
// wildcards arrive unescaped, so names with spaces and SIP URIs work when
// the client escapes them (url.PathEscape).
func (h *handler) routes() {
	s := h.svc
	ok := http.StatusOK
	created := http.StatusCreated
	gone := http.StatusNoContent

	h.handle("GET /organization", func(r *http.Request) (int, any, error) {
		o, err := s.Organization(r.Context())
		return ok, o, err
	})
	h.handle("PATCH /organization", withBody(func(r *http.Request, p admin.OrganizationPatch) (int, any, error) {
		o, err := s.SetOrganization(r.Context(), p)
		return ok, o, err
	}))

	h.handle("GET /pools", func(r *http.Request) (int, any, error) {
		ps, err := s.Pools(r.Context())
		return ok, list(ps), err
	})
	h.handle("POST /pools", withBody(func(r *http.Request, p directory.Pool) (int, any, error) {
		p, err := s.AddPool(r.Context(), p)
		return created, p, err
	}))
	h.handle("GET /pools/{fqdn}", func(r *http.Request) (int, any, error) {
		p, err := s.Pool(r.Context(), r.PathValue("fqdn"))
		return ok, p, err
	})
	h.handle("PATCH /pools/{fqdn}", withBody(func(r *http.Request, p admin.PoolPatch) (int, any, error) {
		pool, err := s.SetPool(r.Context(), r.PathValue("fqdn"), p)
		return ok, pool, err
	}))
	h.handle("DELETE /pools/{fqdn}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeletePool(r.Context(), r.PathValue("fqdn"))
	})

	h.handle("GET /servers", func(r *http.Request) (int, any, error) {
		ss, err := s.Servers(r.Context())
		return ok, list(ss), err
	})
	h.handle("POST /servers", withBody(func(r *http.Request, v directory.Server) (int, any, error) {
		v, err := s.AddServer(r.Context(), v)
		return created, v, err
	}))
	h.handle("DELETE /servers/{fqdn}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteServer(r.Context(), r.PathValue("fqdn"))
	})

	h.handle("GET /trusted-services", func(r *http.Request) (int, any, error) {
		ts, err := s.TrustedServices(r.Context())
		return ok, list(ts), err
	})
	h.handle("POST /trusted-services", withBody(func(r *http.Request, v directory.TrustedService) (int, any, error) {
		v, err := s.AddTrustedService(r.Context(), v)
		return created, v, err
	}))
	h.handle("DELETE /trusted-services/{fqdn}/{type}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteTrustedService(r.Context(), r.PathValue("fqdn"), r.PathValue("type"))
	})

	h.handle("GET /location-profiles", func(r *http.Request) (int, any, error) {
		ls, err := s.LocationProfiles(r.Context())
		return ok, list(ls), err
	})
	h.handle("POST /location-profiles", withBody(func(r *http.Request, v directory.LocationProfile) (int, any, error) {
		v, err := s.AddLocationProfile(r.Context(), v)
		return created, v, err
	}))
	h.handle("GET /location-profiles/{name}", func(r *http.Request) (int, any, error) {
		l, err := s.LocationProfile(r.Context(), r.PathValue("name"))
		return ok, l, err
	})
	h.handle("PATCH /location-profiles/{name}", withBody(func(r *http.Request, p admin.LocationProfilePatch) (int, any, error) {
		l, err := s.SetLocationProfile(r.Context(), r.PathValue("name"), p)
		return ok, l, err
	}))
	h.handle("DELETE /location-profiles/{name}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteLocationProfile(r.Context(), r.PathValue("name"))
	})
	h.handle("GET /location-profiles/{name}/normalize", func(r *http.Request) (int, any, error) {
		n, err := s.NormalizeNumber(r.Context(), r.PathValue("name"), r.URL.Query().Get("number"))
		return ok, n, err
	})

	h.handle("GET /regions", func(r *http.Request) (int, any, error) {
		rs, err := s.Regions(r.Context())
		return ok, list(rs), err
	})
	h.handle("POST /regions", withBody(func(r *http.Request, v directory.Region) (int, any, error) {
		v, err := s.AddRegion(r.Context(), v)
		return created, v, err
	}))
	h.handle("GET /regions/{name}", func(r *http.Request) (int, any, error) {
		v, err := s.Region(r.Context(), r.PathValue("name"))
		return ok, v, err
	})
	h.handle("PATCH /regions/{name}", withBody(func(r *http.Request, p admin.RegionPatch) (int, any, error) {
		v, err := s.SetRegion(r.Context(), r.PathValue("name"), p)
		return ok, v, err
	}))
	h.handle("DELETE /regions/{name}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteRegion(r.Context(), r.PathValue("name"))
	})

	h.handle("GET /meeting-policies", func(r *http.Request) (int, any, error) {
		ps, err := s.MeetingPolicies(r.Context())
		return ok, list(ps), err
	})
	h.handle("POST /meeting-policies", withBody(func(r *http.Request, v directory.MeetingPolicy) (int, any, error) {
		v, err := s.AddMeetingPolicy(r.Context(), v)
		return created, v, err
	}))
	h.handle("GET /meeting-policies/{name}", func(r *http.Request) (int, any, error) {
		v, err := s.MeetingPolicy(r.Context(), r.PathValue("name"))
		return ok, v, err
	})
	h.handle("PATCH /meeting-policies/{name}", withBody(func(r *http.Request, p admin.MeetingPolicyPatch) (int, any, error) {
		v, err := s.SetMeetingPolicy(r.Context(), r.PathValue("name"), p)
		return ok, v, err
	}))
	h.handle("DELETE /meeting-policies/{name}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteMeetingPolicy(r.Context(), r.PathValue("name"))
	})

	h.handle("GET /access-numbers", func(r *http.Request) (int, any, error) {
		as, err := s.AccessNumbers(r.Context())
		return ok, list(as), err
	})
	h.handle("POST /access-numbers", withBody(func(r *http.Request, v admin.AddAccessNumber) (int, any, error) {
		a, err := s.AddAccessNumber(r.Context(), v)
		return created, a, err
	}))
	h.handle("GET /access-numbers/{number}", func(r *http.Request) (int, any, error) {
		a, err := s.AccessNumber(r.Context(), r.PathValue("number"))
		return ok, a, err
	})
	h.handle("DELETE /access-numbers/{number}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteAccessNumber(r.Context(), r.PathValue("number"))
	})

	h.handle("GET /users", func(r *http.Request) (int, any, error) {
		us, err := s.Users(r.Context())
		return ok, list(us), err
	})
	h.handle("POST /users", withBody(func(r *http.Request, v admin.AddUser) (int, any, error) {
		u, err := s.AddUser(r.Context(), v)
		return created, u, err
	}))
	h.handle("GET /users/{uri}", func(r *http.Request) (int, any, error) {
		u, err := s.User(r.Context(), r.PathValue("uri"))
		return ok, u, err
	})
	h.handle("PATCH /users/{uri}", withBody(func(r *http.Request, p admin.UserPatch) (int, any, error) {
		u, err := s.SetUser(r.Context(), r.PathValue("uri"), p)
		return ok, u, err
	}))
	h.handle("DELETE /users/{uri}", func(r *http.Request) (int, any, error) {
		return gone, nil, s.DeleteUser(r.Context(), r.PathValue("uri"))
	})
	h.handle("PUT /users/{uri}/password", withBody(func(r *http.Request, v PasswordRequest) (int, any, error) {
		return gone, nil, s.SetPassword(r.Context(), r.PathValue("uri"), v.Password)
	}))
	h.handle("PUT /users/{uri}/pin", withBody(func(r *http.Request, v PINRequest) (int, any, error) {
		u, err := s.SetPIN(r.Context(), r.PathValue("uri"), v.PIN)
		return ok, u, err
	}))
	h.handle("POST /users/{uri}/conference-id/reset", func(r *http.Request) (int, any, error) {
		u, err := s.ResetConferenceID(r.Context(), r.PathValue("uri"))
		return ok, u, err
	})
	h.handle("POST /users/{uri}/pin/unlock", func(r *http.Request) (int, any, error) {
		u, err := s.UnlockPIN(r.Context(), r.PathValue("uri"))
		return ok, u, err
	})
}

// withBody adapts an operation that takes a decoded JSON body.
func withBody[T any](fn func(r *http.Request, v T) (int, any, error)) endpoint {
	return func(r *http.Request) (int, any, error) {
		v, err := decode[T](r)
		if err != nil {
			return 0, nil, err
		}
		return fn(r, v)
	}
}
