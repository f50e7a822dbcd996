package main

import "runtime/debug"

// buildVersion is set at link time by the package build
// (-ldflags "-X main.buildVersion=1.2.3+git.4.gabc").
var buildVersion string

// version returns the link-time version, else the module version, else "devel".
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
