// Starting a step's process from Node's own thread with posix_spawn: glibc's posix_spawn clones with
// CLONE_VM | CLONE_VFORK, so nothing of Node's address space is copied (a fork copies its page tables,
// however large the heap), and no other process relays the request (the Perl spawn helper costs two more
// wake-ups per step). Its exit is watched through a pidfd polled on libuv's loop; its output comes back
// through pipes that Node reads as sockets. What the process gets is what child_process.spawn gives with
// `detached: true`: its own session and process group, stdin /dev/null, stdout and stderr pipes, exactly
// the env asked for, every signal at its default disposition and none blocked, no other descriptor.
//
// Built by scripts/build-native.mjs (a plain C compiler against Node's headers); runner/native-spawn.ts
// loads it and falls back to the Perl helper where it is missing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  int pidfd;
  pid_t pid;
} watch_t;

static char *string_of(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static void free_strings(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

static char **strings_of(napi_env env, napi_value array) {
  uint32_t n = 0;
  if (napi_get_array_length(env, array, &n) != napi_ok) return NULL;
  char **r = calloc(n + 1, sizeof(char *));
  if (!r) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, array, i, &e);
    r[i] = string_of(env, e);
    if (!r[i]) {
      free_strings(r);
      return NULL;
    }
  }
  return r;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

static void on_child_exit(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  watch_t *w = p->data;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  // Readable means it exited; WNOHANG only guards against a spurious wake-up.
  if (waitid(P_PID, w->pid, &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0) return;
  uv_poll_stop(p);
  close(w->pidfd);
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, global, args[2], result;
  napi_get_reference_value(env, w->callback, &callback);
  napi_delete_reference(env, w->callback);
  napi_get_global(env, &global);
  int exited = si.si_code == CLD_EXITED;
  napi_create_int32(env, exited ? si.si_status : -1, &args[0]);
  napi_create_int32(env, exited ? -1 : si.si_status, &args[1]);
  if (napi_make_callback(env, NULL, global, callback, 2, args, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
  uv_close((uv_handle_t *)p, on_closed);
}

static napi_value throw_errno(napi_env env, int err) {
  char code[16];
  snprintf(code, sizeof code, "%d", err);
  napi_throw_error(env, code, strerror(err));
  return NULL;
}

// spawn(path, argv, envp, cwd, onExit(code, signal)) → [pid, stdoutFd, stderrFd]; throws with the errno
// as its code when the process cannot start (as exec reported it through posix_spawn).
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "spawn(path, argv, envp, cwd, onExit)");
    return NULL;
  }
  napi_value ret = NULL;
  char *path = string_of(env, a[0]);
  char **argv = strings_of(env, a[1]);
  char **envp = strings_of(env, a[2]);
  char *cwd = string_of(env, a[3]);
  int out[2] = {-1, -1}, err[2] = {-1, -1};
  if (!path || !argv || !envp || !cwd) {
    napi_throw_type_error(env, NULL, "spawn: strings expected");
    goto done;
  }
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    if (out[0] >= 0) close(out[0]), close(out[1]);
    throw_errno(env, e);
    goto done;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid;
  int rc = posix_spawn(&pid, path, &fa, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    throw_errno(env, rc);
    goto done;
  }
  // The child is ours to reap (libuv reaps only the pids it started): until then it stays a zombie, so
  // the pidfd opens even if it has exited already.
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  watch_t *w = pidfd >= 0 ? calloc(1, sizeof *w) : NULL;
  uv_loop_t *loop = NULL;
  napi_get_uv_event_loop(env, &loop);
  if (!w || !loop || uv_poll_init(loop, &w->poll, pidfd) != 0) {
    int e = pidfd >= 0 ? EIO : errno;
    if (pidfd >= 0) close(pidfd);
    free(w);
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(out[0]);
    close(err[0]);
    throw_errno(env, e);
    goto done;
  }
  w->env = env;
  w->pid = pid;
  w->pidfd = pidfd;
  w->poll.data = w;
  napi_create_reference(env, a[4], 1, &w->callback);
  uv_poll_start(&w->poll, UV_READABLE, on_child_exit);
  napi_create_array_with_length(env, 3, &ret);
  napi_value v;
  napi_create_int32(env, pid, &v);
  napi_set_element(env, ret, 0, v);
  napi_create_int32(env, out[0], &v);
  napi_set_element(env, ret, 1, v);
  napi_create_int32(env, err[0], &v);
  napi_set_element(env, ret, 2, v);
done:
  free(path);
  free(cwd);
  free_strings(argv);
  free_strings(envp);
  return ret;
}

// available() → whether this kernel has pidfd_open (Linux 5.3 and later), without which exits cannot be
// watched here.
static napi_value Available(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (fd >= 0) close(fd);
  napi_value r;
  napi_get_boolean(env, fd >= 0, &r);
  return r;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &f);
  napi_set_named_property(env, exports, "spawn", f);
  napi_create_function(env, "available", NAPI_AUTO_LENGTH, Available, NULL, &f);
  napi_set_named_property(env, exports, "available", f);
  return exports;
}
