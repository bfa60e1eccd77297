// ServiceHost owns the service configuration (startup type, paths, the dynamic `set config` settings),
// the lifecycle state machine, the computer-startup sequence, the control socket and its
// authorization, systemd readiness/watchdog/reload, journald logging, and the wiring
// providers → merger → driver.
public import Driver
public import PolicyModel
