package runtime

import (
	"os"

	"golang.org/x/sys/unix"
)

// scriptExecutable is Redis's check of a script path given to SENTINEL SET
// with deny-scripts-reconfig off: a regular file the agent may execute.
func scriptExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && unix.Access(path, unix.X_OK) == nil
}
