// Package e2e tests vipsentinel's deb and rpm packages end to end. The tests
// build the packages with packaging/build.sh, lint them (lintian, rpm -qp),
// run the maintainer scripts without systemd (systemd-nspawn --pipe, rpm
// --root), and boot a Debian bookworm system with systemd-nspawn to check
// under a real systemd: installation, READY and STATUS= notifications, the
// journal's structured fields, the watchdog restarting a stopped agent,
// upgrades keeping an edited configuration, purge, and on a three-host
// cluster upgrades, reloads and `systemctl restart` on the master's host
// keeping the VIP and a client's writes (TestClusterUpgradeBooted,
// TestClusterRestartBooted).
//
// The bookworm root file system is built once with debootstrap from the
// machine's configured Debian mirror and cached as a tarball under
// /var/cache/vipsentinel-e2e (deleted: rebuilt on the next run). The tests
// need root and debootstrap, systemd-nspawn, lintian and rpm (.ci/deps
// installs them); under CI=true anything missing is a failure.
//
// There is no non-test code: this file only names the package.
package e2e
