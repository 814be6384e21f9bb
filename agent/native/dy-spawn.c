/*
 * dy-spawn: the shell executor's process spawner (see ../src/executor/spawner/).
 *
 * Why native: a stage is one `sh`, and starting it from Node costs milliseconds of
 * CPU (Node forks a process of tens of megabytes, then passes two pipe handles to the
 * agent over IPC). posix_spawn from this small process (glibc uses clone(CLONE_VFORK))
 * costs a fraction of that, and all stages' output comes back over one pipe.
 *
 * Usage: dy-spawn SCRIPT_DIR [WARM], started by the agent with stdin/stdout as the channel.
 * It keeps WARM shells (default 2) started and blocked reading their script from fd 3,
 * so a stage does not wait for an exec (and its script, with the stage's env, never
 * touches the disk); a used one is replaced when a stage
 * exits, or after 100 ms (a spawn right away would compete with the stage that starts).
 * Every message both ways is a frame: u8 op, u32 id, u32 length (big-endian), payload.
 *   agent -> RUN id script   hand the script to a waiting shell through its pipe; with none
 *                            waiting (or a script longer than the pipe), write it to
 *                            SCRIPT_DIR/id.sh (0600) and start `/bin/sh` on it
 *   agent -> PAUSE id        stop reading the stage's output (the agent's queue is full)
 *   agent -> RESUME id       read it again
 *   agent -> STOP            SIGKILL every stage's process group and exit (so does EOF)
 *   spawner -> STARTED id pid(u32)
 *   spawner -> STDOUT id bytes / STDERR id bytes
 *   spawner -> EXIT id code(i32, -1 if signalled) signal(i32)
 *                            after the shell was reaped and both pipes hit EOF; on reap the
 *                            rest of its process group is SIGKILLed, like a container's end
 *   spawner -> ERROR id message   the stage could not be started
 * Each stage runs in a new session (its pid is its process group id), with stdin
 * /dev/null, the spawner's environment (only PATH and HOME: the agent sets it), and
 * default signal dispositions. INT, TERM and HUP are ignored here: stopping is the
 * agent's decision (it drains), and running stages need this process to report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OP_RUN = 1, OP_PAUSE = 2, OP_RESUME = 3, OP_STOP = 4 };
enum { EV_STARTED = 1, EV_STDOUT = 2, EV_STDERR = 3, EV_EXIT = 4, EV_ERROR = 5 };
#define HEADER 9
#define MAX_SCRIPT (16u << 20)
#define READ_CHUNK 65536

extern char **environ;

struct stage {
  uint32_t id;
  pid_t pid;
  int out, err; /* -1 once at EOF */
  int warm;     /* started, waiting for a script on fd 3 (its write end here); no id yet */
  int cmd;
  int reaped, paused, status;
  char path[4096];
  struct stage *next;
};

static struct stage *stages;
static const char *script_dir;
static int want_warm = 2, warm_count;
static char warm_name[4200];

/* A waiting shell runs the script written into its fd 3 (a pipe, so the script never touches
 * the disk); the script's first line closes fd 3. $0 names the spawner's script dir. */
static const char WAIT_FOR_SCRIPT[] = ". /dev/fd/3";
/* Pipe size asked for a waiting shell's script: a longer script goes to a file and a cold shell. */
#define SCRIPT_PIPE (1 << 20)
static sigset_t blocked;

static void die(const char *what) {
  fprintf(stderr, "dy-spawn: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void kill_all(void);

static void write_all(const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(1, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { kill_all(); exit(0); } /* the agent is gone: its stages have nobody to report to */
    p += n;
    len -= (size_t)n;
  }
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void send_frame(int op, uint32_t id, const void *payload, uint32_t len) {
  unsigned char frame[HEADER + READ_CHUNK];
  frame[0] = (unsigned char)op;
  put32(frame + 1, id);
  put32(frame + 5, len);
  if (len <= READ_CHUNK) { /* one write, so the agent usually reads whole frames */
    memcpy(frame + HEADER, payload, len);
    write_all(frame, HEADER + len);
  } else {
    write_all(frame, HEADER);
    write_all(payload, len);
  }
}

static void send_error(uint32_t id, const char *what, int err) {
  char msg[512];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  send_frame(EV_ERROR, id, msg, (uint32_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1));
}

static void kill_all(void) {
  for (struct stage *s = stages; s; s = s->next)
    if (!s->reaped) kill(-s->pid, SIGKILL);
}

static int write_script(const char *path, const unsigned char *script, uint32_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  while (len > 0) {
    ssize_t n = write(fd, script, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int e = errno; close(fd); unlink(path); return e; }
    script += n;
    len -= (uint32_t)n;
  }
  close(fd);
  return 0;
}

static struct stage *find(uint32_t id) {
  for (struct stage *s = stages; s; s = s->next)
    if (s->id == id) return s;
  return NULL;
}

/* Starts /bin/sh in a new session with fresh stdout/stderr pipes: cold with the script's
 * path (s->path), or warm (waiting on fd 3). Returns an errno, 0 on success. */
static int spawn_shell(struct stage *s, int warm) {
  int out[2], err[2], cmd[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0) return errno;
  if (pipe2(err, O_CLOEXEC) < 0) { int e = errno; close(out[0]); close(out[1]); return e; }
  if (warm && pipe2(cmd, O_CLOEXEC) < 0) { int e = errno; close(out[0]); close(out[1]); close(err[0]); close(err[1]); return e; }
  if (warm) fcntl(cmd[1], F_SETPIPE_SZ, SCRIPT_PIPE); /* best effort: the size is checked at use */

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (warm) posix_spawn_file_actions_adddup2(&fa, cmd[0], 3);
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT); sigaddset(&defaults, SIGTERM); sigaddset(&defaults, SIGHUP);
  sigaddset(&defaults, SIGPIPE); sigaddset(&defaults, SIGCHLD);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char *cold_argv[] = {"/bin/sh", s->path, NULL};
  char *warm_argv[] = {"/bin/sh", "-c", (char *)WAIT_FOR_SCRIPT, warm_name, NULL};
  int rc = posix_spawn(&s->pid, "/bin/sh", &fa, &attr, warm ? warm_argv : cold_argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  if (warm) close(cmd[0]);
  if (rc) {
    close(out[0]); close(err[0]);
    if (warm) close(cmd[1]);
    return rc;
  }
  s->out = out[0];
  s->err = err[0];
  s->warm = warm;
  s->cmd = warm ? cmd[1] : -1;
  fcntl(s->out, F_SETFL, O_NONBLOCK);
  fcntl(s->err, F_SETFL, O_NONBLOCK);
  return 0;
}

static void refill(void) {
  while (warm_count < want_warm) {
    struct stage *s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    if (spawn_shell(s, 1)) { free(s); return; } /* a cold start still works; try again later */
    s->next = stages;
    stages = s;
    warm_count++;
  }
}

/* Hands the script to a waiting shell whose pipe holds it whole (so the write cannot block);
 * null when none could take it. */
static struct stage *use_warm(uint32_t id, const unsigned char *script, uint32_t len) {
  for (struct stage *s = stages; s; s = s->next) {
    if (!s->warm || s->reaped) continue;
    int room = fcntl(s->cmd, F_GETPIPE_SZ);
    if (room < 0 || (uint32_t)room < len) return NULL;
    s->warm = 0;
    warm_count--;
    int ok = 1;
    for (uint32_t done = 0; ok && done < len;) {
      ssize_t n = write(s->cmd, script + done, len - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ok = 0;
      else done += (uint32_t)n;
    }
    close(s->cmd);
    s->cmd = -1;
    if (!ok) { kill(-s->pid, SIGKILL); s->id = 0; continue; } /* died meanwhile: reaped as nobody's */
    s->id = id;
    return s;
  }
  return NULL;
}

static void run_stage(uint32_t id, const unsigned char *script, uint32_t len) {
  struct stage *s = use_warm(id, script, len);
  if (!s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%u.sh", script_dir, id);
    int err = write_script(path, script, len);
    if (err) { send_error(id, "cannot write the stage script", err); return; }
    s = calloc(1, sizeof *s);
    if (!s) die("calloc");
    s->id = id;
    snprintf(s->path, sizeof s->path, "%s", path);
    if ((err = spawn_shell(s, 0))) { send_error(id, "cannot start /bin/sh", err); unlink(path); free(s); return; }
    s->next = stages;
    stages = s;
  }
  unsigned char pid[4];
  put32(pid, (uint32_t)s->pid);
  send_frame(EV_STARTED, id, pid, 4);
}


/* Reads what one pipe has; closes it at EOF. */
static void pump(struct stage *s, int *fd, int op) {
  static unsigned char buf[READ_CHUNK];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n > 0) {
    send_frame(op, s->id, buf, (uint32_t)n);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    close(*fd);
    *fd = -1;
  }
}

/* Reports and forgets stages that were reaped and whose pipes are closed. */
static void finish_done(void) {
  for (struct stage **p = &stages; *p;) {
    struct stage *s = *p;
    if (s->reaped && (s->warm || s->id == 0)) { /* a waiting shell died: nobody's, nothing to report */
      if (s->warm) warm_count--;
      if (s->out >= 0) close(s->out);
      if (s->err >= 0) close(s->err);
      if (s->cmd >= 0) close(s->cmd);
      *p = s->next;
      free(s);
    } else if (s->reaped && s->out < 0 && s->err < 0) {
      unsigned char body[8];
      int code = WIFEXITED(s->status) ? WEXITSTATUS(s->status) : -1;
      int sig = WIFSIGNALED(s->status) ? WTERMSIG(s->status) : 0;
      put32(body, (uint32_t)code);
      put32(body + 4, (uint32_t)sig);
      send_frame(EV_EXIT, s->id, body, 8);
      *p = s->next;
      free(s);
    } else {
      p = &s->next;
    }
  }
}

static int reaped_stage;

static void reap(int sfd) {
  struct signalfd_siginfo info;
  while (read(sfd, &info, sizeof info) == sizeof info) {}
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (struct stage *s = stages; s; s = s->next) {
      if (s->pid != pid || s->reaped) continue;
      s->reaped = 1;
      s->status = status;
      kill(-pid, SIGKILL); /* leftovers of the stage must not keep its pipes open */
      if (s->path[0]) unlink(s->path);
      reaped_stage = 1;
    }
  }
}

/* Commands from the agent; returns the bytes consumed. */
static size_t handle_commands(unsigned char *buf, size_t have) {
  size_t used = 0;
  while (have - used >= HEADER) {
    unsigned char *f = buf + used;
    uint32_t id = get32(f + 1), len = get32(f + 5);
    if (len > MAX_SCRIPT) { fprintf(stderr, "dy-spawn: frame of %u bytes refused\n", len); kill_all(); exit(2); }
    if (have - used < HEADER + (size_t)len) break;
    struct stage *s;
    switch (f[0]) {
      case OP_RUN: run_stage(id, f + HEADER, len); break;
      case OP_PAUSE: if ((s = find(id))) s->paused = 1; break;
      case OP_RESUME: if ((s = find(id))) s->paused = 0; break;
      case OP_STOP: kill_all(); exit(0);
      default: fprintf(stderr, "dy-spawn: unknown op %u refused\n", f[0]); kill_all(); exit(2);
    }
    used += HEADER + len;
  }
  return used;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: dy-spawn SCRIPT_DIR [WARM] (started by the dockyard agent, which talks to it over stdin/stdout)\n");
    return 2;
  }
  script_dir = argv[1];
  if (argc == 3) want_warm = atoi(argv[2]);
  snprintf(warm_name, sizeof warm_name, "dy-warm:%s", script_dir);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &blocked, NULL) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &blocked, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);

  size_t cap = 1 << 16, have = 0;
  unsigned char *in = malloc(cap);
  struct pollfd *fds = NULL;
  struct stage **owner = NULL;
  size_t fds_cap = 0;
  if (!in) die("malloc");
  refill();

  for (;;) {
    size_t n = 0, want = 2;
    for (struct stage *s = stages; s; s = s->next) want += 2;
    if (want > fds_cap) {
      fds_cap = want * 2;
      fds = realloc(fds, fds_cap * sizeof *fds);
      owner = realloc(owner, fds_cap * sizeof *owner);
      if (!fds || !owner) die("realloc");
    }
    fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    for (struct stage *s = stages; s; s = s->next) {
      if (s->paused || s->warm || s->id == 0) continue;
      if (s->out >= 0) { owner[n] = s; fds[n++] = (struct pollfd){.fd = s->out, .events = POLLIN}; }
      if (s->err >= 0) { owner[n] = s; fds[n++] = (struct pollfd){.fd = s->err, .events = POLLIN}; }
    }
    int ready = poll(fds, n, warm_count < want_warm ? 100 : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (ready == 0) { refill(); continue; }
    for (size_t i = 2; i < n; i++) {
      if (!fds[i].revents) continue;
      struct stage *s = owner[i];
      if (fds[i].fd == s->out) pump(s, &s->out, EV_STDOUT);
      else if (fds[i].fd == s->err) pump(s, &s->err, EV_STDERR);
    }
    if (fds[1].revents) reap(sfd);
    if (reaped_stage) { reaped_stage = 0; refill(); }
    if (fds[0].revents) {
      if (have == cap) {
        cap *= 2;
        if (cap > 2 * (MAX_SCRIPT + HEADER)) { kill_all(); exit(2); }
        in = realloc(in, cap);
        if (!in) die("realloc");
      }
      ssize_t got = read(0, in + have, cap - have);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) { kill_all(); exit(0); } /* the agent is gone */
      if (got > 0) {
        have += (size_t)got;
        size_t used = handle_commands(in, have);
        memmove(in, in + used, have - used);
        have -= used;
      }
    }
    finish_done();
  }
}
