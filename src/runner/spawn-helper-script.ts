// The spawn helper's program (see spawn-helper.ts), in Perl: perl-base is part of every Debian and
// Ubuntu system, starts in a few milliseconds and has fork, exec, pipes, setsid and waitpid without any
// module outside its core. A fork of this small process costs a fraction of a fork of Node's.
//
// Requests on stdin, every field ending in NUL:
//   R id cwd argc arg… envc NAME=VALUE…   start argv[0] (found on the new PATH) in cwd with exactly that env
//   K id                                  stop reading the process's pipes (a background child may hold them)
// Frames on stdout: type (1 byte), id (u32 BE), length (u32 BE), payload:
//   H  ready (id 0)            S  started, payload the pid    E  not started: "errno message"
//   O  stdout bytes            R  stderr bytes                X  exited: "code signal" (-1 when none)
//   C  both pipes closed after the exit: nothing more comes for this id
// Each process leads a session (and process group) of its own, with stdin /dev/null, stdout and stderr
// pipes of its own, default signal dispositions and an empty signal mask, and no other descriptor (Perl
// marks every descriptor above 2 close-on-exec). The helper exits when its stdin closes.
export const spawnHelperScript = String.raw`
use strict;
use warnings;
use POSIX ();

$SIG{PIPE} = 'IGNORE';
$SIG{CHLD} = sub { };
binmode STDIN;
binmode STDOUT;

open(my $devnull_fh, '<', '/dev/null') or die "spawn helper: /dev/null: $!\n";
my $devnull = fileno $devnull_fh;
my $nomask = POSIX::SigSet->new();
my %kids;   # id => { pid, out, err, open (pipes not at EOF), status (undef while running) }
my %fds;    # fileno => [id, frame type, handle]

sub frame {
  my ($type, $id, $data) = @_;
  $data = '' unless defined $data;
  my $msg = pack('a1 N N', $type, $id, length $data) . $data;
  my $off = 0;
  while ($off < length $msg) {
    my $n = syswrite(STDOUT, $msg, length($msg) - $off, $off);
    if (!defined $n) { next if $!{EINTR}; POSIX::_exit(0); }
    $off += $n;
  }
}

sub drop_pipe {
  my ($fd) = @_;
  my $e = delete $fds{$fd} or return;
  close $e->[2];
  my $k = $kids{$e->[0]};
  $k->{open}-- if $k;
}

sub finish_if_done {
  my ($id) = @_;
  my $k = $kids{$id} or return;
  return unless defined $k->{status} && $k->{open} == 0;
  frame('C', $id);
  delete $kids{$id};
}

sub start {
  my ($id, $cwd, $argv, $env) = @_;
  my ($or, $ow, $er, $ew, $xr, $xw);
  unless (pipe($or, $ow) && pipe($er, $ew) && pipe($xr, $xw)) {
    frame('E', $id, ($! + 0) . " $!");
    return;
  }
  # The environment and the directory are set here, before the fork, not in the child: whatever the
  # child does before its exec copies the pages it touches (a Perl interpreter touches many), and that
  # copying cost more than the rest of the spawn. The helper itself uses neither.
  %ENV = %$env;
  unless (chdir $cwd) {
    frame('E', $id, ($! + 0) . " $!");
    close $_ for ($or, $ow, $er, $ew, $xr, $xw);
    return;
  }
  my $pid = fork();
  if (!defined $pid) {
    frame('E', $id, ($! + 0) . " $!");
    close $_ for ($or, $ow, $er, $ew, $xr, $xw);
    chdir '/';
    return;
  }
  if ($pid == 0) {
    # Read ends and every other descriptor above 2 close at the exec (Perl marks them close-on-exec);
    # signal handlers reset there too, but an ignored signal would stay ignored.
    $SIG{PIPE} = 'DEFAULT';
    POSIX::sigprocmask(POSIX::SIG_SETMASK(), $nomask);
    POSIX::setsid();
    POSIX::dup2($devnull, 0);
    POSIX::dup2(fileno($ow), 1);
    POSIX::dup2(fileno($ew), 2);
    { no warnings; exec { $argv->[0] } @$argv; }
    syswrite($xw, ($! + 0) . " $!");
    POSIX::_exit(127);
  }
  # Not to hold the step's directory (a mount point could not be unmounted while the helper is in it).
  chdir '/';
  close $ow; close $ew; close $xw;
  # The write end closes at the exec (close-on-exec) or carries why there was none.
  my $why = '';
  while (1) {
    my $n = sysread($xr, $why, 4096, length $why);
    last if defined $n && $n == 0;
    next if !defined $n && $!{EINTR};
    last if !defined $n;
  }
  close $xr;
  if (length $why) {
    waitpid($pid, 0);
    close $or; close $er;
    frame('E', $id, $why);
    return;
  }
  $kids{$id} = { pid => $pid, open => 2, status => undef };
  $fds{fileno $or} = [$id, 'O', $or];
  $fds{fileno $er} = [$id, 'R', $er];
  frame('S', $id, $pid);
}

sub reap {
  for my $id (keys %kids) {
    my $k = $kids{$id};
    next if defined $k->{status};
    my $r = waitpid($k->{pid}, POSIX::WNOHANG());
    next unless $r == $k->{pid};
    my $st = $?;
    $k->{status} = ($st & 127) ? "-1 " . ($st & 127) : ($st >> 8) . " -1";
    frame('X', $id, $k->{status});
    finish_if_done($id);
  }
}

sub handle_requests {
  my ($bufref) = @_;
  while (1) {
    my @f = split /\0/, $$bufref, -1;
    my $complete = scalar(@f) - 1;   # the last piece has no NUL yet
    return if $complete < 2;
    my $used;
    if ($f[0] eq 'K') {
      my $id = $f[1];
      for my $fd (grep { $fds{$_}[0] eq $id } keys %fds) { drop_pipe($fd); }
      if (my $k = $kids{$id}) { $k->{open} = 0; delete $kids{$id} if defined $k->{status}; }
      $used = 2;
    } elsif ($f[0] eq 'R') {
      return if $complete < 4;
      my ($id, $cwd, $argc) = @f[1, 2, 3];
      my $i = 4;
      return if $complete < $i + $argc + 1;
      my @argv = @f[$i .. $i + $argc - 1];
      $i += $argc;
      my $envc = $f[$i++];
      return if $complete < $i + $envc;
      my %env;
      for my $kv (@f[$i .. $i + $envc - 1]) {
        my $eq = index($kv, '=');
        $env{substr($kv, 0, $eq)} = substr($kv, $eq + 1);
      }
      $i += $envc;
      $used = $i;
      start($id, $cwd, \@argv, \%env);
    } else {
      die "spawn helper: unknown request '$f[0]'\n";
    }
    my $len = 0;
    $len += length($f[$_]) + 1 for 0 .. $used - 1;
    substr($$bufref, 0, $len) = '';
  }
}

frame('H', 0);
my $in = '';
while (1) {
  reap();
  my $rin = '';
  vec($rin, 0, 1) = 1;
  vec($rin, $_, 1) = 1 for keys %fds;
  # A process whose pipes are closed exits in a moment (its SIGCHLD may come just before select);
  # one still running is noticed by SIGCHLD interrupting select, or at the latest by the timeout.
  my $timeout;
  for my $k (values %kids) {
    next if defined $k->{status};
    my $t = $k->{open} == 0 ? 0.001 : 0.25;
    $timeout = $t if !defined $timeout || $t < $timeout;
  }
  my $n = select(my $rout = $rin, undef, undef, $timeout);
  next if $n <= 0;
  if (vec($rout, 0, 1)) {
    my $r = sysread(STDIN, $in, 65536, length $in);
    if (defined $r && $r == 0) { POSIX::_exit(0); }
    handle_requests(\$in) if $r;
  }
  for my $fd (keys %fds) {
    next unless vec($rout, $fd, 1);
    my $e = $fds{$fd} or next;
    my $buf;
    my $r = sysread($e->[2], $buf, 65536);
    next if !defined $r && $!{EINTR};
    if ($r) { frame($e->[1], $e->[0], $buf); next; }
    my $id = $e->[0];
    drop_pipe($fd);
    finish_if_done($id);
  }
}
`;
