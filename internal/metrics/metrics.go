// Package metrics exposes auditlake in the Prometheus exposition format (GET /metrics): per
// collection source its files, events, bytes, errors, lag, last poll's duration and S3 requests;
// per store its rows, files and newest event; per API route the requests and their latency.
// The source and store figures are read when scraped, from the same files `source list` and
// `eds list` read, so they are right whichever process collects.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditlake/auditlake/internal/collect"
	"github.com/auditlake/auditlake/internal/lake"
)

// Metrics is the registry behind GET /metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns the metrics of the sources in sources and the stores of lk.
func New(lk *lake.Lake, sources *collect.Registry) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auditlake_http_requests_total",
		Help: "API requests by route and status."}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "auditlake_http_request_duration_seconds",
		Help: "API request latency by route (queries: route /api/query).", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}, []string{"route"})
	m.reg.MustRegister(m.requests, m.latency, &state{lk: lk, sources: sources},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the exposition.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Observe records one API request (server.Options.Observe).
func (m *Metrics) Observe(route string, status int, elapsed time.Duration) {
	if route == "" {
		route = "other"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(elapsed.Seconds())
}

var (
	srcLabels   = []string{"source", "type", "target"}
	storeLabels = []string{"store", "type"}
	descs       = map[string]*prometheus.Desc{
		"files":    prometheus.NewDesc("auditlake_source_files_total", "Files a source has added.", srcLabels, nil),
		"events":   prometheus.NewDesc("auditlake_source_events_total", "Events a source has added.", srcLabels, nil),
		"bytes":    prometheus.NewDesc("auditlake_source_bytes_total", "Bytes a source has read.", srcLabels, nil),
		"errors":   prometheus.NewDesc("auditlake_source_errors_total", "Failed polls and problems (bad files, messages) of a source.", srcLabels, nil),
		"requests": prometheus.NewDesc("auditlake_source_s3_requests_total", "S3 and SQS requests of a source.", srcLabels, nil),
		"messages": prometheus.NewDesc("auditlake_source_messages_deleted_total", "SQS messages deleted after their commit.", srcLabels, nil),
		"lag":      prometheus.NewDesc("auditlake_source_lag_seconds", "Time since the start of the source's last successful poll.", srcLabels, nil),
		"poll":     prometheus.NewDesc("auditlake_source_poll_duration_seconds", "Duration of the source's last poll.", srcLabels, nil),
		"up":       prometheus.NewDesc("auditlake_source_up", "1 when the source's last run worked, 0 in error, -1 paused or never run.", srcLabels, nil),
		"rows":     prometheus.NewDesc("auditlake_store_rows", "Events (rows) a store holds.", storeLabels, nil),
		"sfiles":   prometheus.NewDesc("auditlake_store_files", "Data files of a store.", storeLabels, nil),
		"newest":   prometheus.NewDesc("auditlake_store_newest_event_timestamp_seconds", "Time of a store's newest event.", storeLabels, nil),
		"slag":     prometheus.NewDesc("auditlake_store_lag_seconds", "Now minus a store's newest event.", storeLabels, nil),
	}
)

// state collects the sources' and stores' figures at scrape time.
type state struct {
	lk      *lake.Lake
	sources *collect.Registry
}

func (s *state) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

func (s *state) Collect(ch chan<- prometheus.Metric) {
	ov, err := s.sources.Overview(s.lk, time.Now())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descs["up"], err)
		return
	}
	for _, st := range ov.Sources {
		l := []string{st.Name, st.Type, st.Target()}
		counter := func(k string, v float64) {
			ch <- prometheus.MustNewConstMetric(descs[k], prometheus.CounterValue, v, l...)
		}
		counter("files", float64(st.Files))
		counter("events", float64(st.Events))
		counter("bytes", float64(st.Bytes))
		counter("errors", float64(st.Errors))
		counter("requests", float64(st.Requests))
		counter("messages", float64(st.Messages))
		ch <- prometheus.MustNewConstMetric(descs["lag"], prometheus.GaugeValue, st.Lag.Seconds(), l...)
		ch <- prometheus.MustNewConstMetric(descs["poll"], prometheus.GaugeValue, st.PollTime.Seconds(), l...)
		up := -1.0
		switch st.Status {
		case "ok", "problems":
			up = 1
		case "error":
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descs["up"], prometheus.GaugeValue, up, l...)
	}
	for _, f := range ov.Stores {
		l := []string{f.Name, f.Type}
		ch <- prometheus.MustNewConstMetric(descs["rows"], prometheus.GaugeValue, float64(f.Rows), l...)
		ch <- prometheus.MustNewConstMetric(descs["sfiles"], prometheus.GaugeValue, float64(f.Files), l...)
		if !f.NewestEvent.IsZero() {
			ch <- prometheus.MustNewConstMetric(descs["newest"], prometheus.GaugeValue, float64(f.NewestEvent.Unix()), l...)
			ch <- prometheus.MustNewConstMetric(descs["slag"], prometheus.GaugeValue, f.LagSeconds, l...)
		}
	}
}
