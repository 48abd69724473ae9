/*
 * golem-ts guest agent: PID 1 of the VM runtime's initramfs.
 *
 * Boots the image (squashfs layers from virtio disks with serial rootfs-N, a tmpfs overlay on top), then serves the
 * host over the virtio-serial port named "manager_port" with Golem's guest-agent wire protocol (ya-runtime-vm
 * init.c, see docs/vm.md): run processes chrooted into the image, stream their output through bounded buffers,
 * report exits, kill on request, mount 9p volumes, power off on QUIT.
 *
 * Host -> guest: u64 id | u8 type | { u8 subtype | body }* | u8 0.  Guest -> host: u64 id | u8 type | body.
 * All integers little-endian; BYTES = u64 length + data; ARRAY = u64 count + count x BYTES.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEWROOT "/mnt/newroot"
#define MAX_PROCS 256
#define MAX_LAYERS 8
#define MAX_MSG (64u << 20)

enum { MSG_QUIT = 1, MSG_RUN_PROCESS, MSG_KILL_PROCESS, MSG_MOUNT_VOLUME, MSG_UPLOAD_FILE, MSG_QUERY_OUTPUT,
       MSG_PUT_INPUT, MSG_SYNC_FS, MSG_NET_CTL, MSG_NET_HOST };
enum { RESP_OK = 0, RESP_OK_U64, RESP_OK_BYTES, RESP_ERR, NOTIFY_OUTPUT_AVAILABLE, NOTIFY_PROCESS_DIED };
enum { REDIRECT_FILE = 0, REDIRECT_PIPE_BLOCKING = 1, REDIRECT_PIPE_CYCLIC = 2 };

static void die(const char *what) {
  fprintf(stderr, "guest-agent: %s: %s\n", what, strerror(errno));
  sync();
  reboot(RB_POWER_OFF);
  _exit(1);
}

static void logf_(const char *what) { fprintf(stderr, "guest-agent: %s\n", what); }

/* ---- output buffers ------------------------------------------------------------------------------------------ */

struct ring {
  char *data;
  size_t size, start, len;
  int cyclic;   /* 1: overwrite the oldest bytes; 0: stop reading the pipe while full (backpressure) */
  int fd;       /* read end of the pipe, -1 once closed */
  int notified; /* OUTPUT_AVAILABLE sent and not yet queried */
};

struct proc {
  uint64_t id;
  pid_t pid;
  int alive, died_sent, status, kind;
  struct ring out[2]; /* fd 1, fd 2 */
};

static struct proc procs[MAX_PROCS];
static uint64_t next_id = 1;
static int chan = -1;

static void ring_put(struct ring *r, const char *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (r->len == r->size) { r->start = (r->start + 1) % r->size; r->len--; }
    r->data[(r->start + r->len) % r->size] = buf[i];
    r->len++;
  }
}

static size_t ring_take(struct ring *r, char *out, size_t max) {
  size_t n = r->len < max ? r->len : max;
  for (size_t i = 0; i < n; i++) out[i] = r->data[(r->start + i) % r->size];
  r->start = (r->start + n) % r->size;
  r->len -= n;
  return n;
}

/* ---- channel output ------------------------------------------------------------------------------------------ */

static void write_all(const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(chan, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { struct pollfd pfd = {chan, POLLOUT, 0}; poll(&pfd, 1, 100); continue; }
      return; /* host gone: drop, the host side reconnects or kills us */
    }
    p += w;
    n -= (size_t)w;
  }
}

static void send_head(uint64_t id, uint8_t type) {
  char head[9];
  memcpy(head, &id, 8);
  head[8] = (char)type;
  write_all(head, 9);
}

static void send_ok(uint64_t id) { send_head(id, RESP_OK); }
static void send_err(uint64_t id, uint32_t err) { send_head(id, RESP_ERR); write_all(&err, 4); }
static void send_u64(uint64_t id, uint64_t v) { send_head(id, RESP_OK_U64); write_all(&v, 8); }
static void send_bytes(uint64_t id, const char *data, uint64_t n) {
  send_head(id, RESP_OK_BYTES);
  write_all(&n, 8);
  write_all(data, n);
}

static void notify_output(struct proc *p, int which) {
  struct ring *r = &p->out[which];
  if (r->notified || r->len == 0) return;
  r->notified = 1;
  uint32_t fd = (uint32_t)which + 1;
  send_head(0, NOTIFY_OUTPUT_AVAILABLE);
  write_all(&p->id, 8);
  write_all(&fd, 4);
}

/* A process is reported dead once it exited and its pipes are drained into the buffers (EOF or nothing left). */
static void maybe_notify_died(struct proc *p) {
  if (p->alive || p->died_sent) return;
  for (int i = 0; i < 2; i++) if (p->out[i].fd >= 0 && !p->out[i].cyclic && p->out[i].len == p->out[i].size) return;
  p->died_sent = 1;
  uint8_t status = (uint8_t)p->status, kind = (uint8_t)p->kind;
  send_head(0, NOTIFY_PROCESS_DIED);
  write_all(&p->id, 8);
  write_all(&status, 1);
  write_all(&kind, 1);
}

/* ---- message parsing ------------------------------------------------------------------------------------------ */

struct cursor { const char *p; size_t left; int short_; };

static int take(struct cursor *c, void *out, size_t n) {
  if (c->left < n) { c->short_ = 1; return -1; }
  if (out) memcpy(out, c->p, n);
  c->p += n;
  c->left -= n;
  return 0;
}
static uint8_t take_u8(struct cursor *c) { uint8_t v = 0; take(c, &v, 1); return v; }
static uint16_t take_u16(struct cursor *c) { uint16_t v = 0; take(c, &v, 2); return v; }
static uint32_t take_u32(struct cursor *c) { uint32_t v = 0; take(c, &v, 4); return v; }
static uint64_t take_u64(struct cursor *c) { uint64_t v = 0; take(c, &v, 8); return v; }
/* Returns a malloc'd NUL-terminated copy (NULL when the buffer is short). */
static char *take_bytes(struct cursor *c, uint64_t *len_out) {
  uint64_t n = take_u64(c);
  if (c->short_ || n > c->left) { c->short_ = 1; return NULL; }
  char *s = malloc(n + 1);
  if (!s) die("malloc");
  memcpy(s, c->p, n);
  s[n] = 0;
  take(c, NULL, n);
  if (len_out) *len_out = n;
  return s;
}
static char **take_array(struct cursor *c) {
  uint64_t n = take_u64(c);
  if (c->short_ || n > c->left / 8) { c->short_ = 1; return NULL; }
  char **a = calloc(n + 1, sizeof(char *));
  if (!a) die("malloc");
  for (uint64_t i = 0; i < n; i++) {
    a[i] = take_bytes(c, NULL);
    if (!a[i]) { c->short_ = 1; return a; }
  }
  return a;
}
static void free_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

/* ---- commands ------------------------------------------------------------------------------------------------- */

static void mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *s = buf + 1; *s; s++) if (*s == '/') { *s = 0; mkdir(buf, 0755); *s = '/'; }
  mkdir(buf, 0755);
}

static struct proc *find_proc(uint64_t id) {
  for (int i = 0; i < MAX_PROCS; i++) if (procs[i].id == id) return &procs[i];
  return NULL;
}

static struct proc *free_slot(void) {
  for (int i = 0; i < MAX_PROCS; i++) if (procs[i].id == 0) return &procs[i];
  /* reuse the slot of a process that died and was reported, with nothing left to read */
  for (int i = 0; i < MAX_PROCS; i++) {
    struct proc *p = &procs[i];
    if (p->died_sent && p->out[0].len == 0 && p->out[1].len == 0) {
      for (int j = 0; j < 2; j++) { if (p->out[j].fd >= 0) close(p->out[j].fd); free(p->out[j].data); }
      memset(p, 0, sizeof *p);
      return p;
    }
  }
  return NULL;
}

struct run_req {
  char *bin, *cwd;
  char **argv, **env;
  uint32_t uid, gid;
  uint64_t size[2];
  int kind[2];
};

static void run_process(uint64_t msg_id, struct run_req *r) {
  if (!r->bin || !r->argv) { send_err(msg_id, EINVAL); return; }
  struct proc *p = free_slot();
  if (!p) { send_err(msg_id, EMFILE); return; }
  int pipes[2][2] = {{-1, -1}, {-1, -1}}, status_pipe[2];
  for (int i = 0; i < 2; i++) {
    if (r->kind[i] < 0) continue;
    if (r->kind[i] == REDIRECT_FILE || r->size[i] == 0 || r->size[i] > (16u << 20)) { send_err(msg_id, EINVAL); return; }
    if (pipe2(pipes[i], O_CLOEXEC) < 0) { send_err(msg_id, errno); return; }
  }
  if (pipe2(status_pipe, O_CLOEXEC) < 0) { send_err(msg_id, errno); return; }
  pid_t pid = fork();
  if (pid < 0) { send_err(msg_id, errno); return; }
  if (pid == 0) {
    int err;
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    setsid();
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    for (int i = 0; i < 2; i++) dup2(pipes[i][1] >= 0 ? pipes[i][1] : devnull, i + 1);
    const char *cwd = r->cwd && *r->cwd ? r->cwd : "/";
    if (chroot(NEWROOT) < 0) goto fail;
    mkdirs(cwd); /* as Docker: a working directory missing from the image is created */
    if (chdir(cwd) < 0) goto fail;
    if (setgid(r->gid) < 0 || setuid(r->uid) < 0) goto fail;
    execve(r->bin, r->argv, r->env ? r->env : (char *[]){NULL});
  fail:
    err = errno;
    write(status_pipe[1], &err, sizeof err);
    _exit(127);
  }
  close(status_pipe[1]);
  int exec_err = 0;
  ssize_t got = read(status_pipe[0], &exec_err, sizeof exec_err);
  close(status_pipe[0]);
  for (int i = 0; i < 2; i++) if (pipes[i][1] >= 0) close(pipes[i][1]);
  if (got == sizeof exec_err) {
    for (int i = 0; i < 2; i++) if (pipes[i][0] >= 0) close(pipes[i][0]);
    waitpid(pid, NULL, 0);
    send_err(msg_id, (uint32_t)exec_err);
    return;
  }
  memset(p, 0, sizeof *p);
  p->id = next_id++;
  p->pid = pid;
  p->alive = 1;
  for (int i = 0; i < 2; i++) {
    p->out[i].fd = pipes[i][0];
    if (p->out[i].fd >= 0) {
      fcntl(p->out[i].fd, F_SETFL, O_NONBLOCK);
      p->out[i].size = r->size[i];
      p->out[i].cyclic = r->kind[i] == REDIRECT_PIPE_CYCLIC;
      p->out[i].data = malloc(r->size[i]);
      if (!p->out[i].data) die("malloc");
    }
  }
  send_u64(msg_id, p->id);
}

static void handle_query(uint64_t msg_id, uint64_t id, uint8_t fd, uint64_t len) {
  struct proc *p = find_proc(id);
  if (!p || (fd != 1 && fd != 2) || !p->out[fd - 1].data) { send_err(msg_id, EBADF); return; }
  struct ring *r = &p->out[fd - 1];
  size_t max = len < r->len ? (size_t)len : r->len;
  char *buf = malloc(max ? max : 1);
  if (!buf) die("malloc");
  size_t n = ring_take(r, buf, max);
  r->notified = 0;
  send_bytes(msg_id, buf, n);
  free(buf);
  notify_output(p, fd - 1);
  maybe_notify_died(p);
}

static void handle_mount(uint64_t msg_id, const char *tag, const char *path) {
  char target[4096];
  if (!tag || !path || path[0] != '/' || strstr(path, "..")) { send_err(msg_id, EINVAL); return; }
  snprintf(target, sizeof target, NEWROOT "%s", path);
  mkdirs(target);
  if (mount(tag, target, "9p", 0, "trans=virtio,version=9p2000.L,msize=104857600") < 0) { send_err(msg_id, errno); return; }
  send_ok(msg_id);
}

static void handle_hosts(uint64_t msg_id, char **ips, char **names, int n) {
  mkdir(NEWROOT "/etc", 0755); /* an image without /etc still gets its hosts */
  FILE *f = fopen(NEWROOT "/etc/hosts", "a");
  if (!f) { send_err(msg_id, errno); return; }
  for (int i = 0; i < n; i++) fprintf(f, "%s\t%s\n", ips[i], names[i]);
  fclose(f);
  send_ok(msg_id);
}

struct net_req { uint16_t flags, iface; char *addr, *mask, *gateway, *if_addr; };

static int set_ipv4(int s, const char *ifname, unsigned long request, const char *ip) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) { errno = EINVAL; return -1; }
  return ioctl(s, request, &ifr);
}

/* NET_CTL: with if_addr, give the interface its address, netmask and MTU (VPN 1220, as Golem) and bring it up;
 * with addr and a gateway, route addr/mask through the gateway. eth0 is the VPN device, eth1 the INET one. */
static void handle_net(uint64_t msg_id, struct net_req *n) {
  const char *ifname = n->iface == 1 ? "eth1" : "eth0";
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) { send_err(msg_id, errno); return; }
  int err = 0;
  if (n->if_addr && *n->if_addr) {
    struct ifreq ifr;
    if (set_ipv4(s, ifname, SIOCSIFADDR, n->if_addr) < 0) err = errno;
    else if (n->mask && *n->mask && set_ipv4(s, ifname, SIOCSIFNETMASK, n->mask) < 0) err = errno;
    if (!err) {
      memset(&ifr, 0, sizeof ifr);
      snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
      ifr.ifr_mtu = n->iface == 1 ? 65521 : 1220;
      ioctl(s, SIOCSIFMTU, &ifr);
      if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) err = errno;
      else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) err = errno;
      }
    }
  } else if (n->addr && *n->addr && n->gateway && *n->gateway) {
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *gw = (struct sockaddr_in *)&rt.rt_gateway,
                       *mask = (struct sockaddr_in *)&rt.rt_genmask;
    dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
    if (inet_pton(AF_INET, n->addr, &dst->sin_addr) != 1 || inet_pton(AF_INET, n->gateway, &gw->sin_addr) != 1 ||
        inet_pton(AF_INET, n->mask && *n->mask ? n->mask : "255.255.255.255", &mask->sin_addr) != 1) err = EINVAL;
    else {
      dst->sin_addr.s_addr &= mask->sin_addr.s_addr;
      rt.rt_flags = RTF_UP | RTF_GATEWAY;
      rt.rt_dev = (char *)ifname;
      if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST) err = errno;
    }
  }
  close(s);
  if (err) send_err(msg_id, (uint32_t)err); else send_ok(msg_id);
}

/* Parses one message from buf; returns bytes consumed, 0 when more bytes are needed, -1 on a malformed message. */
static long handle_message(const char *buf, size_t len) {
  struct cursor c = {buf, len, 0};
  uint64_t id = take_u64(&c);
  uint8_t type = take_u8(&c);
  if (c.short_) return 0;
  struct run_req run = {.kind = {-1, -1}};
  uint64_t pid = 0, off = 0, qlen = 0;
  uint8_t qfd = 0;
  char *tag = NULL, *path = NULL;
  struct net_req net = {0};
  char *ips[64], *names[64];
  int hosts = 0, bad = 0;
  for (;;) {
    uint8_t sub = take_u8(&c);
    if (c.short_ || sub == 0) break;
    switch (type * 256 + sub) {
      case MSG_RUN_PROCESS * 256 + 1: run.bin = take_bytes(&c, NULL); break;
      case MSG_RUN_PROCESS * 256 + 2: run.argv = take_array(&c); break;
      case MSG_RUN_PROCESS * 256 + 3: run.env = take_array(&c); break;
      case MSG_RUN_PROCESS * 256 + 4: run.uid = take_u32(&c); break;
      case MSG_RUN_PROCESS * 256 + 5: run.gid = take_u32(&c); break;
      case MSG_RUN_PROCESS * 256 + 6: {
        uint32_t fd = take_u32(&c);
        uint8_t kind = take_u8(&c);
        uint64_t size = 0;
        if (kind == REDIRECT_FILE) free(take_bytes(&c, NULL));
        else size = take_u64(&c);
        if (fd == 1 || fd == 2) { run.kind[fd - 1] = kind; run.size[fd - 1] = size; } else bad = 1;
        break;
      }
      case MSG_RUN_PROCESS * 256 + 7: run.cwd = take_bytes(&c, NULL); break;
      case MSG_RUN_PROCESS * 256 + 8: break; /* ENTRYPOINT: no body */
      case MSG_KILL_PROCESS * 256 + 1: pid = take_u64(&c); break;
      case MSG_MOUNT_VOLUME * 256 + 1: tag = take_bytes(&c, NULL); break;
      case MSG_MOUNT_VOLUME * 256 + 2: path = take_bytes(&c, NULL); break;
      case MSG_UPLOAD_FILE * 256 + 1: free(take_bytes(&c, NULL)); break;
      case MSG_UPLOAD_FILE * 256 + 2: case MSG_UPLOAD_FILE * 256 + 3: case MSG_UPLOAD_FILE * 256 + 4: take_u32(&c); break;
      case MSG_UPLOAD_FILE * 256 + 5: free(take_bytes(&c, NULL)); break;
      case MSG_QUERY_OUTPUT * 256 + 1: pid = take_u64(&c); break;
      case MSG_QUERY_OUTPUT * 256 + 2: qfd = take_u8(&c); break;
      case MSG_QUERY_OUTPUT * 256 + 3: off = take_u64(&c); break;
      case MSG_QUERY_OUTPUT * 256 + 4: qlen = take_u64(&c); break;
      case MSG_PUT_INPUT * 256 + 1: pid = take_u64(&c); break;
      case MSG_PUT_INPUT * 256 + 2: free(take_bytes(&c, NULL)); break;
      case MSG_NET_CTL * 256 + 1: net.flags = take_u16(&c); break;
      case MSG_NET_CTL * 256 + 2: free(net.addr); net.addr = take_bytes(&c, NULL); break;
      case MSG_NET_CTL * 256 + 3: free(net.mask); net.mask = take_bytes(&c, NULL); break;
      case MSG_NET_CTL * 256 + 4: free(net.gateway); net.gateway = take_bytes(&c, NULL); break;
      case MSG_NET_CTL * 256 + 5: free(net.if_addr); net.if_addr = take_bytes(&c, NULL); break;
      case MSG_NET_CTL * 256 + 6: net.iface = take_u16(&c); break;
      case MSG_NET_HOST * 256 + 1: {
        char *ip = take_bytes(&c, NULL), *name = take_bytes(&c, NULL);
        if (hosts < 64 && ip && name) { ips[hosts] = ip; names[hosts++] = name; } else { free(ip); free(name); }
        break;
      }
      default: return -1; /* an unknown sub-message has no known length: the stream cannot be resynchronised */
    }
    if (c.short_) break;
  }
  long consumed = c.short_ ? 0 : (long)(len - c.left);
  if (consumed > 0 && !bad) {
    switch (type) {
      case MSG_QUIT:
        send_ok(id);
        sync();
        reboot(RB_POWER_OFF);
        break;
      case MSG_RUN_PROCESS: run_process(id, &run); break;
      case MSG_KILL_PROCESS: {
        struct proc *p = find_proc(pid);
        if (!p) send_err(id, ESRCH);
        else { if (p->alive) kill(-p->pid, SIGKILL); send_ok(id); }
        break;
      }
      case MSG_MOUNT_VOLUME: handle_mount(id, tag, path); break;
      case MSG_QUERY_OUTPUT: if (off != 0) send_err(id, EINVAL); else handle_query(id, pid, qfd, qlen); break;
      case MSG_SYNC_FS: sync(); send_ok(id); break;
      case MSG_NET_HOST: handle_hosts(id, ips, names, hosts); break;
      case MSG_NET_CTL: handle_net(id, &net); break;
      default: send_err(id, ENOSYS); break; /* UPLOAD_FILE, PUT_INPUT: not used by our host */
    }
  } else if (consumed > 0) send_err(id, EINVAL);
  free(run.bin); free(run.cwd); free_array(run.argv); free_array(run.env); free(tag); free(path);
  free(net.addr); free(net.mask); free(net.gateway); free(net.if_addr);
  for (int i = 0; i < hosts; i++) { free(ips[i]); free(names[i]); }
  return consumed;
}

/* ---- boot ----------------------------------------------------------------------------------------------------- */

/* The listed order is a hint, not a promise: kernels change which module needs which (Debian's 6.1.0-57 made virtio
 * depend on virtio_ring, the reverse of before). A module whose dependencies are not in yet fails with ENOENT
 * (unknown symbol), so passes are repeated while one of them loads something. */
#define MAX_MODULES 64
static void load_modules(void) {
  FILE *list = fopen("/modules/order", "r");
  if (!list) return;
  char names[MAX_MODULES][256];
  int count = 0, error[MAX_MODULES];
  while (count < MAX_MODULES && fgets(names[count], sizeof names[count], list)) {
    names[count][strcspn(names[count], "\n")] = 0;
    if (*names[count]) error[count++] = -1;
  }
  fclose(list);
  for (int progress = 1; progress;) {
    progress = 0;
    for (int i = 0; i < count; i++) {
      if (error[i] == 0) continue;
      char path[272];
      snprintf(path, sizeof path, "/modules/%.255s", names[i]);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) { error[i] = errno; continue; }
      error[i] = syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST ? errno : 0;
      close(fd);
      if (error[i] == 0) progress = 1;
    }
  }
  for (int i = 0; i < count; i++)
    if (error[i] != 0) fprintf(stderr, "guest-agent: %s: %s\n", names[i], strerror(error[i]));
}

static int read_line(const char *path, char *out, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t r = read(fd, out, n - 1);
  close(fd);
  if (r < 0) return -1;
  out[r] = 0;
  out[strcspn(out, "\n")] = 0;
  return 0;
}

static int mount_layers(void) {
  int layers = 0;
  for (int attempt = 0; attempt < 50 && layers == 0; attempt++) {
    DIR *d = opendir("/sys/class/block");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      char path[512], serial[64], dev[300], mnt[64];
      if (strncmp(e->d_name, "vd", 2) != 0) continue;
      snprintf(path, sizeof path, "/sys/class/block/%s/serial", e->d_name);
      if (read_line(path, serial, sizeof serial) < 0 || strncmp(serial, "rootfs-", 7) != 0) continue;
      int n = atoi(serial + 7);
      if (n < 0 || n >= MAX_LAYERS) continue;
      snprintf(dev, sizeof dev, "/dev/%s", e->d_name);
      snprintf(mnt, sizeof mnt, "/mnt/image-%d", n);
      mkdirs(mnt);
      if (mount(dev, mnt, "squashfs", MS_RDONLY, NULL) < 0) die("mount squashfs");
      layers++;
    }
    if (d) closedir(d);
    if (layers == 0) usleep(100000);
  }
  return layers;
}

static void setup_root(void) {
  int layers = mount_layers();
  if (layers == 0) { errno = ENODEV; die("no rootfs-N disk"); }
  char lower[512] = "";
  for (int i = 0; i < layers; i++) {
    char one[32];
    snprintf(one, sizeof one, "%s/mnt/image-%d", i ? ":" : "", i);
    strcat(lower, one);
  }
  mkdirs("/mnt/overlay");
  const char *size = getenv("overlay_size");
  char opts[640];
  snprintf(opts, sizeof opts, "mode=0700,size=%s", size ? size : "128M");
  if (mount("tmpfs", "/mnt/overlay", "tmpfs", 0, opts) < 0) die("mount overlay tmpfs");
  mkdirs("/mnt/overlay/upper");
  mkdirs("/mnt/overlay/work");
  mkdirs(NEWROOT);
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=/mnt/overlay/upper,workdir=/mnt/overlay/work", lower);
  if (mount("overlay", NEWROOT, "overlay", 0, opts) < 0) die("mount overlay");
  mkdirs(NEWROOT "/proc"); mkdirs(NEWROOT "/sys"); mkdirs(NEWROOT "/dev"); mkdirs(NEWROOT "/tmp");
  mount("proc", NEWROOT "/proc", "proc", 0, NULL);
  mount("sysfs", NEWROOT "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", NEWROOT "/dev", "devtmpfs", 0, NULL);
  mount("tmpfs", NEWROOT "/tmp", "tmpfs", 0, "mode=1777");
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) { ifr.ifr_flags |= IFF_UP; ioctl(s, SIOCSIFFLAGS, &ifr); }
  close(s);
}

static int open_channel(void) {
  for (int attempt = 0; attempt < 100; attempt++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      char path[512], name[64], dev[300];
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      if (read_line(path, name, sizeof name) < 0 || strcmp(name, "manager_port") != 0) continue;
      snprintf(dev, sizeof dev, "/dev/%s", e->d_name);
      int fd = open(dev, O_RDWR | O_CLOEXEC | O_NONBLOCK);
      if (fd >= 0) { closedir(d); return fd; }
    }
    if (d) closedir(d);
    usleep(100000);
  }
  die("no manager_port");
  return -1;
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_PROCS; i++) {
      struct proc *p = &procs[i];
      if (p->id == 0 || p->pid != pid || !p->alive) continue;
      p->alive = 0;
      if (WIFEXITED(status)) { p->status = WEXITSTATUS(status); p->kind = 0; }
      else { p->status = WTERMSIG(status); p->kind = WCOREDUMP(status) ? 2 : 1; }
      /* drain what is already in the pipes; the rest comes as long as writers remain (background children) */
      for (int j = 0; j < 2; j++) {
        struct ring *r = &p->out[j];
        char buf[4096];
        ssize_t n;
        while (r->fd >= 0 && (r->cyclic || r->len < r->size) &&
               (n = read(r->fd, buf, r->cyclic ? sizeof buf : (r->size - r->len < sizeof buf ? r->size - r->len : sizeof buf))) > 0)
          ring_put(r, buf, (size_t)n);
        notify_output(p, j);
      }
      maybe_notify_died(p);
    }
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  setvbuf(stderr, NULL, _IONBF, 0);
  mkdir("/dev", 0755); mkdir("/proc", 0755); mkdir("/sys", 0755);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  load_modules();
  setup_root();
  loopback_up();
  const char *hostname = getenv("hostname");
  if (hostname) sethostname(hostname, strlen(hostname));
  chan = open_channel();

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  logf_("ready");

  char *inbuf = malloc(1 << 16);
  size_t incap = 1 << 16, inlen = 0;
  if (!inbuf) die("malloc");
  for (;;) {
    struct pollfd pfds[2 + 2 * MAX_PROCS];
    struct ring *rings[2 + 2 * MAX_PROCS];
    int n = 0;
    pfds[n++] = (struct pollfd){chan, POLLIN, 0};
    pfds[n++] = (struct pollfd){sfd, POLLIN, 0};
    for (int i = 0; i < MAX_PROCS; i++)
      for (int j = 0; j < 2; j++) {
        struct ring *r = &procs[i].out[j];
        if (procs[i].id == 0 || r->fd < 0 || (!r->cyclic && r->len == r->size)) continue;
        rings[n] = r;
        pfds[n++] = (struct pollfd){r->fd, POLLIN, 0};
      }
    if (poll(pfds, (nfds_t)n, -1) < 0 && errno != EINTR) die("poll");
    if (pfds[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      reap();
    }
    for (int k = 2; k < n; k++) {
      if (!pfds[k].revents) continue;
      struct ring *r = rings[k];
      char buf[4096];
      size_t room = r->cyclic ? sizeof buf : (r->size - r->len < sizeof buf ? r->size - r->len : sizeof buf);
      ssize_t got = read(r->fd, buf, room);
      if (got > 0) ring_put(r, buf, (size_t)got);
      else if (got == 0 || (errno != EAGAIN && errno != EINTR)) { close(r->fd); r->fd = -1; }
      for (int i = 0; i < MAX_PROCS; i++)
        for (int j = 0; j < 2; j++)
          if (&procs[i].out[j] == r) { notify_output(&procs[i], j); maybe_notify_died(&procs[i]); }
    }
    if (pfds[0].revents & POLLIN) {
      if (incap - inlen < 4096) {
        if (incap >= MAX_MSG) { errno = EMSGSIZE; die("message too large"); }
        incap *= 2;
        inbuf = realloc(inbuf, incap);
        if (!inbuf) die("realloc");
      }
      ssize_t got = read(chan, inbuf + inlen, incap - inlen);
      if (got > 0) {
        inlen += (size_t)got;
        long used;
        while (inlen > 0 && (used = handle_message(inbuf, inlen)) != 0) {
          if (used < 0) { logf_("malformed message; dropping input"); inlen = 0; break; }
          memmove(inbuf, inbuf + used, inlen - (size_t)used);
          inlen -= (size_t)used;
        }
      } else if (got == 0) usleep(20000); /* host not connected */
    } else if (pfds[0].revents & (POLLHUP | POLLERR)) usleep(20000);
  }
}
