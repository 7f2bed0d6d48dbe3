//go:build race

package extract

// raceEnabled: the race detector slows extraction about tenfold, so the
// corpus tests sample fewer pages under it.
const raceEnabled = true
