package cli

import (
	"context"
	"io"

	"github.com/auditlake/auditlake/internal/app"
	"github.com/auditlake/auditlake/internal/server"
)

func init() {
	newBackend = func(ctx context.Context, env *Env) (server.Backend, io.Closer, error) {
		lk, err := openLake(env)
		if err != nil {
			return nil, nil, err
		}
		b := app.New(lk, 4)
		return b, b, nil
	}
}
