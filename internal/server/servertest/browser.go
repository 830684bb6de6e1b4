package servertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditlake/auditlake/web"
)

// StepsTimeout bounds all the steps of one browser test (StartChromium's ctx). A loaded
// machine (CI's two cores run two packages' tests at once; -race slows the server tenfold)
// takes minutes for what an idle one does in seconds: the bound only stops a hung browser.
const StepsTimeout = 5 * time.Minute

// Chromium returns the browser to drive (Debian's chromium, or another Chromium on PATH),
// once the dashboard's web assets are known to be built. Without either the test skips on a
// developer machine but fails in CI (CI=true), where a skip must not pass as green.
func Chromium(t testing.TB) string {
	t.Helper()
	if web.Assets() == nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("web assets are not built (web/dist/index.html): run make web before the tests")
		}
		t.Skip("web assets are not built: run make web")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); the browser test cannot be skipped in CI")
	}
	t.Skip("chromium is not installed; apt-get install -y chromium to run the browser test")
	return ""
}

// ScreenshotDir is where a browser test's screenshots go: $ARTIFACTS/name if set, else a new
// temporary directory that is kept after the test and named in the log.
func ScreenshotDir(t testing.TB, name string) string {
	t.Helper()
	dir := ""
	if a := os.Getenv("ARTIFACTS"); a != "" {
		dir = filepath.Join(a, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		d, err := os.MkdirTemp("", "auditlake-"+name+"-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// StartChromium starts headless browser at 1280×800 (stopped when the test ends) and returns
// its context, ctx: one bounded to StepsTimeout for the test's steps, and do: run steps or
// fail the test with a screenshot (failShot in shots) and, when serverLog is not nil, what it
// returns (the server's log).
func StartChromium(t testing.TB, browser, shots, failShot string, serverLog fmt.Stringer) (bctx, ctx context.Context, do func(step string, steps ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(cancelC)
	// The first call starts the browser and must not carry a timeout (it would stop the browser).
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, StepsTimeout)
	t.Cleanup(cancelT)
	do = func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			// Keep what the page showed, for the log reader.
			sctx, cancel := context.WithTimeout(bctx, time.Minute)
			defer cancel()
			if buf, serr := chromedp.Run(sctx, chromedp.FullScreenshot(100)); serr == nil {
				os.WriteFile(filepath.Join(shots, failShot), buf, 0o644)
			}
			log := ""
			if serverLog != nil {
				log = "\nserver log:\n" + serverLog.String()
			}
			t.Fatalf("%s: %v (page in %s)%s", step, err, filepath.Join(shots, failShot), log)
		}
	}
	return bctx, ctx, do
}
