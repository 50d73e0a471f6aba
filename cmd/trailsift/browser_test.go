package main

// A small client of the Chrome DevTools Protocol over --remote-debugging-pipe
// (fd 3: commands to the browser, fd 4: replies and events, each message a
// JSON text ended by a NUL byte), enough to load a report in a real headless
// Chromium, watch every request and console message, read the DOM and take
// a screenshot, without a browser-automation dependency.

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type cdpMessage struct {
	ID        int             `json:"id"`
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	Result    json.RawMessage `json:"result"`
	Error     *struct{ Message string }
	SessionID string `json:"sessionId"`
}

type browser struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     *os.File // our end of fd 3
	msgs   chan cdpMessage
	nextID int
	events []cdpMessage // every event seen, in order
	stderr strings.Builder
}

// needBrowser finds Chromium; without it the test fails in CI (CI=1 or
// TRAILSIFT_REQUIRE_BROWSER=1, where .ci/run installs it) and is skipped
// elsewhere.
func needBrowser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "1" || os.Getenv("TRAILSIFT_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium not found, and CI=1 or TRAILSIFT_REQUIRE_BROWSER=1 requires the browser test (.ci/run installs it with apt-get install chromium)")
	}
	t.Skip("chromium not found: the HTML report is not checked in a browser (apt-get install chromium, or run .ci/run)")
	return ""
}

func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, in: cmdW, msgs: make(chan cdpMessage, 1024)}
	b.cmd = exec.Command(path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-default-apps", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars", "--window-size=1280,2000",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	b.cmd.ExtraFiles = []*os.File{cmdR, outW}
	b.cmd.Stderr = &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmdR.Close()
	outW.Close()
	t.Cleanup(func() {
		b.in.Close()
		done := make(chan struct{})
		go func() { b.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			b.cmd.Process.Kill()
			<-done
		}
	})
	go func() {
		r := bufio.NewReader(outR)
		defer close(b.msgs)
		for {
			raw, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m cdpMessage
			if json.Unmarshal(raw[:len(raw)-1], &m) == nil {
				b.msgs <- m
			}
		}
	}()
	return b
}

// next waits for the next message from the browser.
func (b *browser) next(timeout time.Duration) cdpMessage {
	b.t.Helper()
	select {
	case m, ok := <-b.msgs:
		if !ok {
			b.t.Fatalf("browser exited; stderr:\n%s", b.stderr.String())
		}
		if m.Method != "" {
			b.events = append(b.events, m)
		}
		return m
	case <-time.After(timeout):
		b.t.Fatalf("browser did not answer within %s; stderr:\n%s", timeout, b.stderr.String())
	}
	return cdpMessage{}
}

// call sends a command (to a page's session when session is set) and
// returns its result.
func (b *browser) call(session, method string, params any) json.RawMessage {
	b.t.Helper()
	b.nextID++
	id := b.nextID
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, _ := json.Marshal(msg)
	if _, err := b.in.Write(append(data, 0)); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	for {
		m := b.next(30 * time.Second)
		if m.ID == id {
			if m.Error != nil {
				b.t.Fatalf("%s: %s", method, m.Error.Message)
			}
			return m.Result
		}
	}
}

// waitEvent waits for an event, keeping every other one.
func (b *browser) waitEvent(method string, timeout time.Duration) {
	b.t.Helper()
	for _, e := range b.events {
		if e.Method == method {
			return
		}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := b.next(time.Until(deadline)); m.Method == method {
			return
		}
	}
	b.t.Fatalf("no %s within %s", method, timeout)
}

// drain keeps the events that arrive within d.
func (b *browser) drain(d time.Duration) {
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-b.msgs:
			if !ok {
				return
			}
			if m.Method != "" {
				b.events = append(b.events, m)
			}
		case <-deadline:
			return
		}
	}
}

// pageLoad is what loading one file in the browser showed.
type pageLoad struct {
	Requests   []string // every URL the page asked for, the page itself included
	Problems   []string // console errors and warnings, exceptions, log errors
	DOM        map[string]any
	Screenshot []byte // PNG
}

// loadPage opens file in a fresh tab, waits for it to load, evaluates probe
// (a JavaScript expression giving a JSON object) and takes a screenshot.
func loadPage(t *testing.T, chromium, file, probe string) pageLoad {
	b := startBrowser(t, chromium)
	var target struct{ TargetID string }
	json.Unmarshal(b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}), &target)
	var attached struct{ SessionID string }
	json.Unmarshal(b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}), &attached)
	s := attached.SessionID
	for _, m := range []string{"Page.enable", "Network.enable", "Runtime.enable", "Log.enable"} {
		b.call(s, m, map[string]any{})
	}
	b.call(s, "Page.navigate", map[string]any{"url": "file://" + file})
	b.waitEvent("Page.loadEventFired", 30*time.Second)
	b.drain(500 * time.Millisecond) // late console messages and requests

	var res struct {
		Result struct{ Value string }
	}
	json.Unmarshal(b.call(s, "Runtime.evaluate", map[string]any{"expression": "JSON.stringify(" + probe + ")", "returnByValue": true}), &res)
	var pl pageLoad
	if err := json.Unmarshal([]byte(res.Result.Value), &pl.DOM); err != nil {
		t.Fatalf("probe result %q: %v", res.Result.Value, err)
	}
	var shot struct{ Data string }
	json.Unmarshal(b.call(s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}), &shot)
	pl.Screenshot, _ = base64.StdEncoding.DecodeString(shot.Data)

	for _, e := range b.events {
		var p struct {
			Request   struct{ URL string }
			Type      string
			Args      []struct{ Value any }
			Entry     struct{ Level, Text, Source string }
			Exception struct {
				Text      string
				Exception struct{ Description string }
			} `json:"exceptionDetails"`
		}
		json.Unmarshal(e.Params, &p)
		switch e.Method {
		case "Network.requestWillBeSent":
			pl.Requests = append(pl.Requests, p.Request.URL)
		case "Runtime.consoleAPICalled":
			if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
				pl.Problems = append(pl.Problems, fmt.Sprintf("console.%s %v", p.Type, p.Args))
			}
		case "Runtime.exceptionThrown":
			pl.Problems = append(pl.Problems, "exception: "+p.Exception.Text+" "+p.Exception.Exception.Description)
		case "Log.entryAdded":
			if p.Entry.Level == "error" || p.Entry.Level == "warning" {
				pl.Problems = append(pl.Problems, fmt.Sprintf("log %s (%s): %s", p.Entry.Level, p.Entry.Source, p.Entry.Text))
			}
		}
	}
	b.call("", "Browser.close", map[string]any{})
	return pl
}
