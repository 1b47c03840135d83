package cli

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// gcSettings reads the current GC percent, memory limit and GOMAXPROCS.
func gcSettings() (gc int, limit int64, procs int) {
	gc = debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	return gc, debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0)
}

func TestTuneRuntime(t *testing.T) {
	gc0, limit0, procs0 := gcSettings()
	t.Cleanup(func() { debug.SetGCPercent(gc0); debug.SetMemoryLimit(limit0); runtime.GOMAXPROCS(procs0) })
	for _, tc := range []struct {
		name      string
		env       map[string]string
		tune      func()
		wantGC    int
		wantLimit int64
		wantProcs int
	}{
		{"server, nothing set", nil, tuneServer, 1600, serverMemoryLimit, runtime.NumCPU() + 1},
		{"server, GOGC set", map[string]string{"GOGC": "150"}, tuneServer, 150, 1 << 40, runtime.NumCPU() + 1},
		{"server, GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "2GiB"}, tuneServer, 1600, 1 << 40, runtime.NumCPU() + 1},
		{"server, GOMAXPROCS set", map[string]string{"GOMAXPROCS": "7"}, tuneServer, 1600, serverMemoryLimit, 7},
		{"apply, nothing set", nil, tuneRuntime, 400, 1 << 40, 2 * runtime.NumCPU()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS"} {
				t.Setenv(k, tc.env[k])
			}
			// The settings the environment would have given the process.
			debug.SetGCPercent(150)
			debug.SetMemoryLimit(1 << 40)
			runtime.GOMAXPROCS(7)
			tc.tune()
			gc, limit, procs := gcSettings()
			if gc != tc.wantGC || limit != tc.wantLimit || procs != tc.wantProcs {
				t.Fatalf("GOGC %d, memory limit %d, GOMAXPROCS %d; want %d, %d, %d", gc, limit, procs, tc.wantGC, tc.wantLimit, tc.wantProcs)
			}
		})
	}
}
