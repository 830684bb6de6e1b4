package app

import (
	"context"
	"fmt"

	"github.com/auditlake/auditlake/internal/server"
)

func (b *Backend) report(ctx context.Context, name string, p server.ReportParams) (any, error) {
	return nil, fmt.Errorf("%w: report %q", server.ErrNotFound, name)
}

func (b *Backend) instance(ctx context.Context, id string, p server.ReportParams) (any, error) {
	return nil, fmt.Errorf("%w: instance %q", server.ErrNotFound, id)
}
