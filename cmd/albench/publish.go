package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// publishBench times ingest of src into a fresh store with the SQL catalog, without and with
// the store published to S3 (eds publish; every commit uploads its files before its snapshot),
// alternating, rounds times each. S3 is gofakes3 served on loopback by this process (issue 20:
// publishing adds ≤ 20 % to ingest wall time).
func publishBench(bin, src, work string, rounds int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	backend := s3mem.New()
	if err := backend.CreateBucket("bench"); err != nil {
		return err
	}
	srv := &http.Server{Handler: gofakes3.New(backend).Server()}
	go srv.Serve(ln)
	defer srv.Close()
	endpoint := "http://" + ln.Addr().String()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"} {
		os.Setenv(k, v)
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "albench-publish"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	var local, published []measured
	for r := range rounds {
		for _, pub := range []bool{false, true} {
			data := filepath.Join(work, fmt.Sprintf("publish-%d-%v", r, pub))
			os.RemoveAll(data)
			steps := [][]string{{"eds", "create", "bench"}, {"catalog", "set", "sql"}}
			if pub {
				steps = append(steps, []string{"eds", "publish", "bench", "--to", fmt.Sprintf("s3://bench/round%d/", r), "--endpoint-url", endpoint, "--region", "us-east-1"})
			}
			for _, s := range steps {
				if _, _, err := timeCmd(bin, append([]string{"--data", data}, s...)...); err != nil {
					return err
				}
			}
			m, _, err := timeCmd(bin, "--data", data, "ingest", "cloudtrail", "--eds", "bench", src)
			if err != nil {
				return err
			}
			if pub {
				published = append(published, m)
			} else {
				local = append(local, m)
			}
			os.RemoveAll(data)
		}
	}
	a, b := median(local), median(published)
	ratio := float64(b.wall) / float64(a.wall)
	verdict := "met"
	if ratio > 1.20 {
		verdict = "not met"
	}
	fmt.Println()
	fmt.Printf("## Publishing to S3 (gofakes3 on loopback), %d alternating rounds\n\n", rounds)
	fmt.Println("| ingest cloudtrail, SQL catalog | runs (wall) | median | CPU (user+sys) of the median run | peak RSS | ratio | target |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	fmt.Printf("| not published | %s | %.2f s | %.2f s | %d MiB | | |\n", walls(local), a.wall.Seconds(), a.cpu.Seconds(), a.maxRSS/1024)
	fmt.Printf("| published (every commit uploads first) | %s | %.2f s | %.2f s | %d MiB | %.2f× | ≤ 1.20×: %s |\n", walls(published), b.wall.Seconds(), b.cpu.Seconds(), b.maxRSS/1024, ratio, verdict)
	return nil
}
