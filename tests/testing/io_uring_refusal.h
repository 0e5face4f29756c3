#pragma once

namespace socklab::testing {

// Whether this machine's CPU has a seccomp audit-arch constant here (x86-64, AArch64): where it
// has none, RefuseIoUringSetup cannot work and a test of the refusal skips.
bool CanRefuseIoUringSetup();

// Makes io_uring_setup(2) fail with EPERM in the calling thread and every process it then forks
// or execs, as Docker's default seccomp profile does: a seccomp filter (raw BPF, no libseccomp)
// behind PR_SET_NO_NEW_PRIVS. It cannot be undone, so call it in a child process: it is
// async-signal-safe (two prctl calls on a constant program), so a child may call it between
// fork() and exec(). False when the kernel refused the filter.
bool RefuseIoUringSetup();

}  // namespace socklab::testing
