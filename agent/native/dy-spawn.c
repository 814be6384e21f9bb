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
 *                            rest of the stage is SIGKILLed, like a container's end: its process
 *                            group, its session, and the processes of our uid whose environment
 *                            holds DOCKYARD_SPAWN_TAG=<spawner pid>.<id> (the agent exports it
 *                            first thing in every script; it catches daemons that left the
 *                            session with setsid). A pipe still open DRAIN_MS after that (held
 *                            by a process that escaped both) is read dry and closed, so the
 *                            EXIT never waits on a daemon. Paused time does not count.
 *   spawner -> ERROR id message   the stage could not be started
 * Each stage runs in a new session (its pid is its process group id), with stdin
 * /dev/null, the spawner's environment (only PATH and HOME: the agent sets it), and
 * default signal dispositions. INT, TERM and HUP are ignored here: stopping is the
 * agent's decision (it drains), and running stages need this process to report.
 */
#define _GNU_SOURCE
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

enum { OP_RUN = 1, OP_PAUSE = 2, OP_RESUME = 3, OP_STOP = 4 };
enum { EV_STARTED = 1, EV_STDOUT = 2, EV_STDERR = 3, EV_EXIT = 4, EV_ERROR = 5 };
#define HEADER 9
#define MAX_SCRIPT (16u << 20)
#define READ_CHUNK 65536
#define DRAIN_MS 200

extern char **environ;

struct stage {
  uint32_t id;
  pid_t pid;
  int out, err; /* -1 once at EOF */
  int warm;     /* started, waiting for a script on fd 3 (its write end here); no id yet */
  int cmd;
  int reaped, paused, status;
  unsigned long long since; /* when the shell started (clock ticks since boot) */
  unsigned long long forks; /* forks since boot just after it started (see kill_stage) */
  long long drain_until;    /* once reaped: monotonic ms after which open pipes are cut off */
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

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* The fields of /proc/PID/stat we use; 0 when the process is gone. */
static int proc_stat(pid_t pid, char *state, pid_t *session, unsigned long long *start) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may hold anything */
  int sid;
  if (!p || sscanf(p + 2, "%c %*s %*s %d" /* state ppid pgrp session */
                   " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu" /* ... starttime */,
                   state, &sid, start) != 3) return 0;
  *session = sid;
  return 1;
}

/* A small /proc (or /proc/sys) file's first number after PREFIX (NULL: at the start); 0 if none. */
static unsigned long long proc_number(const char *path, const char *prefix) {
  char buf[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char *p = buf;
  if (prefix && !(p = strstr(buf, prefix))) return 0;
  return strtoull(p + (prefix ? strlen(prefix) : 0), NULL, 10);
}

static unsigned long long forks_so_far(void) { return proc_number("/proc/stat", "\nprocesses "); }

/* Whether PID's environment holds the entry TAG (NUL-terminated) exactly. */
static int has_tag(pid_t pid, const char *tag) {
  static char *buf;
  static size_t cap;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t len = 0;
  for (;;) {
    if (cap - len < 4097) {
      size_t bigger = cap ? cap * 2 : 65536;
      char *grown = realloc(buf, bigger);
      if (!grown) { close(fd); return 0; }
      buf = grown;
      cap = bigger;
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = 0;
  for (char *p = buf; p < buf + len; p += strlen(p) + 1)
    if (strcmp(p, tag) == 0) return 1;
  return 0;
}

/* SIGKILLs what is left of stage ID whose shell is (or was) SID: its process group and session,
 * and our uid's processes tagged for it (see EXIT above); processes older than the shell cannot
 * be the stage's and are not read. Scans again while a pass found something, at most 4 times.
 * Pids are handed out cyclically, so while fewer than pid_max forks happened since the shell
 * started (FORKS then), everything it started has a pid in (SID, last pid]: only those are read,
 * which keeps the scan at a stage's end cheap (a read of every /proc/PID/stat costs ~1 ms per
 * 150 processes here). */
static void kill_stage(pid_t sid, uint32_t id, unsigned long long since, unsigned long long forks) {
  kill(-sid, SIGKILL);
  static unsigned long long pid_max;
  if (!pid_max) pid_max = proc_number("/proc/sys/kernel/pid_max", NULL);
  unsigned long long now_forks = forks_so_far();
  long last = (long)proc_number("/proc/sys/kernel/ns_last_pid", NULL);
  int ranged = forks && now_forks >= forks && last > 0 && now_forks - forks + 1000 < pid_max;
  char tag[64];
  snprintf(tag, sizeof tag, "DOCKYARD_SPAWN_TAG=%d.%u", (int)getpid(), id);
  uid_t uid = geteuid();
  for (int pass = 0; pass < 4; pass++) {
    int found = 0;
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
      char *end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end || pid <= 1 || pid == getpid()) continue;
      if (ranged && (last >= sid ? pid <= sid || pid > last : pid <= sid && pid > last)) continue;
      char state;
      pid_t session;
      unsigned long long start;
      if (!proc_stat((pid_t)pid, &state, &session, &start) || state == 'Z' || state == 'X') continue;
      if (session == sid) { kill((pid_t)pid, SIGKILL); found = 1; continue; }
      if (start < since) continue;
      char path[64];
      struct stat st;
      snprintf(path, sizeof path, "/proc/%ld", pid);
      if (stat(path, &st) || st.st_uid != uid || !has_tag((pid_t)pid, tag)) continue;
      kill((pid_t)pid, SIGKILL);
      found = 1;
    }
    closedir(d);
    if (!found) return;
  }
}

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
  for (struct stage *s = stages; s; s = s->next) {
    if (s->reaped) continue;
    if (s->id && !s->warm) kill_stage(s->pid, s->id, s->since, s->forks);
    else kill(-s->pid, SIGKILL);
  }
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
  char state;
  pid_t session;
  if (!proc_stat(s->pid, &state, &session, &s->since)) s->since = 0; /* read everything then */
  s->forks = forks_so_far();
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


/* Reads what one pipe has; closes it at EOF. Returns whether it read something. */
static int pump(struct stage *s, int *fd, int op) {
  static unsigned char buf[READ_CHUNK];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n > 0) {
    send_frame(op, s->id, buf, (uint32_t)n);
    return 1;
  }
  if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    close(*fd);
    *fd = -1;
  }
  return 0;
}

/* A reaped stage's pipe still open after its drain time (held by a process kill_stage could not
 * find): read what it holds, then close it. */
static void cut_off(long long now) {
  for (struct stage *s = stages; s; s = s->next) {
    if (!s->reaped || s->warm || s->id == 0 || s->paused || now < s->drain_until) continue;
    for (int i = 0; i < 16 && s->out >= 0 && pump(s, &s->out, EV_STDOUT); i++) {}
    for (int i = 0; i < 16 && s->err >= 0 && pump(s, &s->err, EV_STDERR); i++) {}
    if (s->out >= 0) { close(s->out); s->out = -1; }
    if (s->err >= 0) { close(s->err); s->err = -1; }
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
      s->drain_until = now_ms() + DRAIN_MS;
      /* leftovers of the stage must not keep its pipes open */
      if (s->id && !s->warm) kill_stage(pid, s->id, s->since, s->forks);
      else kill(-pid, SIGKILL);
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
      case OP_RESUME:
        if ((s = find(id))) {
          s->paused = 0;
          if (s->reaped && s->drain_until < now_ms() + DRAIN_MS) s->drain_until = now_ms() + DRAIN_MS;
        }
        break;
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
    /* Wake for the first drain deadline of a reaped stage, or to refill the waiting shells. */
    int timeout = warm_count < want_warm ? 100 : -1, refill_due = timeout >= 0;
    long long now = now_ms();
    for (struct stage *s = stages; s; s = s->next) {
      if (!s->reaped || s->warm || s->id == 0 || s->paused || (s->out < 0 && s->err < 0)) continue;
      long long left = s->drain_until > now ? s->drain_until - now : 0;
      if (timeout < 0 || left < timeout) { timeout = (int)left; refill_due = 0; }
    }
    int ready = poll(fds, n, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (ready == 0) {
      if (refill_due) refill();
      cut_off(now_ms());
      finish_done();
      continue;
    }
    for (size_t i = 2; i < n; i++) {
      if (!fds[i].revents) continue;
      struct stage *s = owner[i];
      if (fds[i].fd == s->out) pump(s, &s->out, EV_STDOUT);
      else if (fds[i].fd == s->err) pump(s, &s->err, EV_STDERR);
    }
    if (fds[1].revents) reap(sfd);
    if (reaped_stage) { reaped_stage = 0; refill(); }
    cut_off(now_ms());
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
