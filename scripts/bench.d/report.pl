#!/usr/bin/perl
# report.pl: turns scripts/bench's raw wrk outputs and resource samples into the benchmark's per-app Markdown, bench.json and the sweep table.
#
#   report.pl run RUN_DIR OUT_DIR        one measurement: OUT/HelloWorld.md,
#                                        OUT/Orders.md, OUT/bench.json; the
#                                        summary on stdout; exit 3 when errors
#                                        passed 1% of the requests
#   report.pl sweep PARAM OUT VALUE=DIR... the sweep table from each DIR's
#                                        bench.json: OUT/sweep.md, .tsv, .json
#   report.pl procs                      every process's CPU ticks, for the
#                                        samples around each run
#
# Only core Perl (JSON::PP ships with Debian's perl).
use strict;
use warnings;
use JSON::PP ();

# Errors above this share of the requests make the run a failure.
my $ERROR_LIMIT = 0.01;
# Other processes busy above this share of one core during a measured run
# make its figures incomparable with those of another run: a warning.
my $OTHER_CPU_LIMIT = 15;

my @ENDPOINTS = (
	{ key => 'hello',  path => '/',       file => 'HelloWorld.md', title => 'Hello World' },
	{ key => 'orders', path => '/orders', file => 'Orders.md',     title => 'Orders' },
);

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or die "report.pl: $path: $!\n";
	local $/;
	my $text = <$fh>;
	close($fh);
	return $text;
}

sub spew {
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "report.pl: $path: $!\n";
	print $fh $text or die "report.pl: $path: $!\n";
	close($fh) or die "report.pl: $path: $!\n";
}

# key=value lines; a key seen twice keeps its last value.
sub read_pairs {
	my ($path) = @_;
	my %pairs;
	for my $line (split /\n/, slurp($path)) {
		$pairs{$1} = $2 if $line =~ /^([a-z_]+)=(.*)$/;
	}
	return \%pairs;
}

# wrk's time units (us, ms, s, m, h) to milliseconds.
sub ms {
	my ($text) = @_;
	my %scale = (us => 0.001, ms => 1, s => 1000, m => 60_000, h => 3_600_000);
	$text =~ /^([0-9.]+)(us|ms|s|m|h)$/ or die "report.pl: not a wrk time: '$text'\n";
	return $1 * $scale{$2};
}

# The figures of wrk --latency's text output.
sub parse_wrk {
	my ($path) = @_;
	my $text = slurp($path);
	my %r = (raw => $text, non2xx => 0, connect => 0, read => 0, write => 0, timeout => 0);
	my $fail = sub { die "report.pl: $path: no $_[0] in wrk's output\n" };
	$text =~ /^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$/m or $fail->('Latency line');
	@r{qw(lat_avg lat_stdev lat_max lat_within)} = ($1, $2, $3, $4);
	$text =~ /^\s*Req\/Sec\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$/m or $fail->('Req/Sec line');
	@r{qw(rs_avg rs_stdev rs_max rs_within)} = ($1, $2, $3, $4);
	for my $p (qw(50 75 90 99)) {
		$text =~ /^\s*$p%\s+(\S+)\s*$/m or $fail->("$p% line (was it run with --latency?)");
		$r{"p$p"} = $1;
	}
	$text =~ /^\s*(\d+) requests in ([0-9.]+\w+), (\S+) read\s*$/m or $fail->('request count');
	@r{qw(requests elapsed bytes_read)} = ($1, $2, $3);
	$text =~ /^Requests\/sec:\s*([0-9.]+)\s*$/m or $fail->('Requests/sec');
	$r{rps} = $1;
	$text =~ /^Transfer\/sec:\s*(\S+)\s*$/m or $fail->('Transfer/sec');
	$r{transfer} = $1;
	if ($text =~ /^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/m) {
		@r{qw(connect read write timeout)} = ($1, $2, $3, $4);
	}
	$r{non2xx} = $1 if $text =~ /^\s*Non-2xx or 3xx responses: (\d+)/m;
	$r{socket_errors} = $r{connect} + $r{read} + $r{write} + $r{timeout};
	$r{errors} = $r{non2xx} + $r{socket_errors};
	return \%r;
}

sub commas {
	my ($number) = @_;
	my ($int, $frac) = split /\./, $number;
	1 while $int =~ s/^(\d+)(\d{3})/$1,$2/;
	return defined $frac ? "$int.$frac" : $int;
}

# Memory as `docker stats` prints it (the benchmark's Memory column): 4 significant digits.
sub mib {
	my ($kib) = @_;
	my $mib = $kib / 1024;
	return sprintf('%.4gMiB', $mib) if $mib < 1024;
	return sprintf('%.4gGiB', $mib / 1024);
}

sub plural {
	my ($n, $word) = @_;
	return $n == 1 ? "1 $word" : "$n ${word}s";
}

sub round {
	my ($value, $places) = @_;
	return 0 + sprintf("%.${places}f", $value);
}

sub database_kind {
	my ($url) = @_;
	return 'sqlite' if $url =~ m{^sqlite://};
	return 'postgresql';
}

# JSON with the keys in the order written (JSON::PP would sort them or
# follow hash order): obj(k => v, ...) is an object, an array ref an array,
# raw(TEXT) JSON text already written (a run's bench.json in sweep.json).
my $json_scalar = JSON::PP->new->allow_nonref;
sub obj { return bless [@_], 'Obj' }
sub raw { my ($text) = @_; return bless \$text, 'Raw' }
sub to_json {
	my ($value, $indent) = @_;
	$indent //= '';
	my $inner = "$indent  ";
	if (ref $value eq 'Obj') {
		my @pairs = @$value;
		my @out;
		while (my ($k, $v) = splice(@pairs, 0, 2)) {
			push @out, $inner . $json_scalar->encode($k) . ': ' . to_json($v, $inner);
		}
		return "{\n" . join(",\n", @out) . "\n$indent}";
	}
	if (ref $value eq 'Raw') {
		return $$value =~ s/\s+\z//r =~ s/\n/\n$indent/gr;
	}
	if (ref $value eq 'ARRAY') {
		return '[]' unless @$value;
		return "[\n" . join(",\n", map { $inner . to_json($_, $inner) } @$value) . "\n$indent]";
	}
	return 'null' unless defined $value;
	return $value if $value =~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;
	return $json_scalar->encode("$value");
}

sub cpu_percent {
	my ($before, $after, $meta) = @_;
	my $elapsed = $after->{elapsed} || return 0;
	return round(100 * ($after->{cpu_ticks} - $before->{cpu_ticks}) / $meta->{clk_tck} / $elapsed, 1);
}

# The processes of a sample: pid => [parent, start time, CPU ticks (own and
# reaped children's), command name], from the "proc" lines that
# `report.pl procs` wrote.
sub read_procs {
	my ($path) = @_;
	my %procs;
	for my $line (split /\n/, slurp($path)) {
		$procs{$1} = [ $2, $3, $4, $5 // '' ] if $line =~ /^proc (\d+) (\d+) (\d+) (\d+)(?: (\S*))?$/;
	}
	return \%procs;
}

# pid => 1 for PID and every process under it in a sample.
sub descendants {
	my ($procs, $pid) = @_;
	my %in = ($pid => 1);
	my $grew = 1;
	while ($grew) {
		$grew = 0;
		for my $p (keys %$procs) {
			next if $in{$p} || !$in{ $procs->{$p}[0] };
			$in{$p} = $grew = 1;
		}
	}
	return \%in;
}

# CPU ticks a class of processes spent between two samples: what each
# member added, all of a member started since, less what a member that
# ended had before (its whole life lands in its parent's reaped-children
# ticks, and its parent is a member: a worker's supervisor, a backend's
# postmaster).
sub class_ticks {
	my ($was, $is, $member) = @_;
	my $ticks = 0;
	while (my ($pid, $now) = each %$is) {
		next unless $member->($pid, $now, $is);
		my $then = $was->{$pid};
		$ticks += $then && $then->[1] == $now->[1] ? $now->[2] - $then->[2] : $now->[2];
	}
	while (my ($pid, $then) = each %$was) {
		next unless $member->($pid, $then, $was);
		my $now = $is->{$pid};
		$ticks -= $then->[2] unless $now && $now->[1] == $then->[1];
	}
	return $ticks;
}

my @CLASSES = qw(front responder database load);
my $FRONTS = qr/^(lighttpd|nginx|apache2|httpd|h2o)$/;

# CPU time per request completed, in microseconds, for each class of
# processes over the measured run: the web server in front, the responder
# (supervisor and workers), the local PostgreSQL server (undefined when
# there is none) and wrk. Undefined throughout when the samples predate
# the figures.
sub cpu_per_request {
	my ($run, $e, $meta, $requests) = @_;
	my ($before_path, $after_path) = ("$run/$e->{key}.stack.before", "$run/$e->{key}.stack.after");
	my %none = map { $_ => undef } @CLASSES;
	return \%none unless $requests > 0 && -e $before_path && -e $after_path;
	my ($before, $after) = (read_pairs($before_path), read_pairs($after_path));
	my ($was, $is) = (read_procs($before_path), read_procs($after_path));
	return \%none unless grep { $_->[3] ne '' } values %$is;
	my %target = map { $_ => 1 } split(/,/, ($before->{target} // '') . ',' . ($after->{target} // ''));
	my $us = sub { return round(1e6 * $_[0] / $meta->{clk_tck} / $requests, 1) };
	my %out = %none;
	$out{front} = $us->(class_ticks($was, $is, sub { $target{ $_[0] } && $_[1][3] =~ $FRONTS }));
	$out{responder} = $us->(class_ticks($was, $is, sub { $target{ $_[0] } && $_[1][3] eq 'webapi-fcgi' }));
	if (my $postmaster = $after->{database_pid} || $before->{database_pid}) {
		my %in = (%{ descendants($was, $postmaster) }, %{ descendants($is, $postmaster) });
		$out{database} = $us->(class_ticks($was, $is, sub { $in{ $_[0] } }));
	}
	my $times = "$run/$e->{key}.stack.wrk.times";
	if (-e $times) {
		# bash's `times`: the shell's user and system time, then its children's.
		my @lines = split /\n/, slurp($times);
		my $seconds = 0;
		$seconds += ($1 // 0) * 60 + $2 while ($lines[1] // '') =~ /(?:(\d+)m)?([0-9.]+)s/g;
		$out{load} = round(1e6 * $seconds / $requests, 1);
	}
	return \%out;
}

# The CPU share (100 = one core) that processes other than the target, wrk and
# this benchmark took during a run: what every other process added to its
# ticks, or all of them for one started since. The machine's busy time less
# ours bounds it: a long-lived process reaped during the run hands its whole
# life to its parent. (The busy time alone would not do: interrupts served
# while a CPU idles count as busy and belong to no process, and the loopback
# traffic of a static run makes a good share of a core of them.) Undefined
# when the samples lack the figures.
sub other_cpu_percent {
	my ($before_path, $after_path, $meta) = @_;
	return undef unless -e $before_path && -e $after_path;
	my ($before, $after) = (read_pairs($before_path), read_pairs($after_path));
	return undef unless defined $before->{busy_ticks} && defined $after->{busy_ticks} && $after->{elapsed};
	my ($was, $is) = (read_procs($before_path), read_procs($after_path));
	my %ours = map { $_ => 1 } split(/,/, $after->{target} // ''), $after->{self};
	if (my $postmaster = $after->{database_pid}) {
		%ours = (%ours, %{ descendants($was, $postmaster) }, %{ descendants($is, $postmaster) });
	}
	my $others = 0;
	while (my ($pid, $now) = each %$is) {
		next if $ours{$pid} || $now->[0] == $after->{self};
		my $then = $was->{$pid};
		$others += $then && $then->[1] == $now->[1] ? $now->[2] - $then->[2] : $now->[2];
	}
	my $bound = ($after->{busy_ticks} - $before->{busy_ticks}) - ($after->{cpu_ticks} - $before->{cpu_ticks})
		- ($after->{self_ticks} - $before->{self_ticks});
	$others = $bound if $others > $bound;
	$others = 0 if $others < 0;
	return round(100 * $others / $meta->{clk_tck} / $after->{elapsed}, 1);
}

# Every process now, one "proc PID PARENT START TICKS" line each.
sub print_procs {
	for my $path (glob '/proc/[0-9]*/stat') {
		open(my $fh, '<', $path) or next;    # gone since the glob
		my $stat = <$fh> // next;
		# The command name is in parentheses and may hold anything.
		$stat =~ /^(\d+) \(.*\) (.*)$/s or next;
		my ($pid, @f) = ($1, split(' ', $2));
		my ($name) = $stat =~ /^\d+ \((.*)\) /s;
		$name =~ s/\s/_/g;
		print "proc $pid $f[1] $f[19] ", $f[11] + $f[12] + $f[13] + $f[14], " $name\n";
	}
	return 0;
}

# A CPU-per-request figure as the tables show it; "-" for none.
sub us {
	my ($value) = @_;
	return defined $value ? sprintf('%.1f', $value) : '-';
}

sub endpoint_markdown {
	my ($meta, $e, $stack, $static, $res, $ratio, $cpu, $other, $static_other, $per) = @_;
	my $others = join(' / ', map { defined $_ ? sprintf('%.1f%%', $_) : 'n/a' } $other, $static_other);
	my $url = "http://127.0.0.1:$meta->{port}$e->{path}";
	my $command = "wrk -t $meta->{threads} -c $meta->{connections} -d $meta->{duration} --latency $url";
	my $static_url = "http://127.0.0.1:$meta->{static_port}$e->{path}";
	my $mem_pct = $meta->{mem_total_kib} ? sprintf('%.2f%%', 100 * $res->{pss_kib} / $meta->{mem_total_kib}) : 'n/a';
	my $database = $meta->{database_url};
	my $errors = sub {
		my ($r) = @_;
		return "$r->{non2xx} non-2xx/3xx; socket: connect $r->{connect}, read $r->{read}, write $r->{write}, timeout $r->{timeout}";
	};
	my $warmup = $meta->{warmup} =~ /^0+[smh]?$/ ? 'no warm-up' : "$meta->{warmup} of warm-up before the run";
	my $front = $meta->{front} // 'lighttpd';
	my $reuse = $front eq 'lighttpd' ? '' : ($meta->{front_reuse} // 'off') eq 'on' ? ', FastCGI connections reused' : ', a FastCGI connection per request';
	my $setup = sprintf('%s (%s%s) + `%s`, %s x %s, store `%s`; wrk %s on the same machine (%d CPUs, %s); %s',
		$front, $meta->{front_version} // $meta->{lighttpd}, $reuse, $meta->{responder} // 'webapi-fcgi', plural($meta->{workers}, 'worker'), plural($meta->{backends}, 'backend'), $database,
		$meta->{wrk}, $meta->{cpus}, $meta->{cpu_model}, $warmup);
	my $md = <<MD;
# $meta->{name} — $e->{title} Benchmark

**Tested**: $meta->{tested}
**Command**: `$command`
**Setup**: $setup

## Summary

| Metric | Value |
| --- | --- |
| Requests/sec | ${\ commas($stack->{rps})} |
| Avg Latency | $stack->{lat_avg} |
| Max Latency | $stack->{lat_max} |
| Total Requests | ${\ commas($stack->{requests})} |
| Transfer/sec | $stack->{transfer} |
| Port | $meta->{port} |

## Thread Stats

| Stat | Avg | Stdev | Max | +/- Stdev |
| --- | --- | --- | --- | --- |
| Latency | $stack->{lat_avg} | $stack->{lat_stdev} | $stack->{lat_max} | $stack->{lat_within} |
| Req/Sec | $stack->{rs_avg} | $stack->{rs_stdev} | $stack->{rs_max} | $stack->{rs_within} |

## Latency Distribution

| 50% | 75% | 90% | 99% |
| --- | --- | --- | --- |
| $stack->{p50} | $stack->{p75} | $stack->{p90} | $stack->{p99} |

## Static Ceiling

The same response body served as a static file by a second ${\ ($meta->{front} // 'lighttpd')} with the
same server settings (`scripts/bench.d/static.conf`, or `scripts/front --static`),
measured in the same run with the same wrk settings: what this web server does
at best on this machine.

| Metric | webapi-fcgi | static file | ratio |
| --- | --- | --- | --- |
| Requests/sec | ${\ commas($stack->{rps})} | ${\ commas($static->{rps})} | ${\ sprintf('%.3f', $ratio)} |
| Avg Latency | $stack->{lat_avg} | $static->{lat_avg} | |
| p99 Latency | $stack->{p99} | $static->{p99} | |
| Max Latency | $stack->{lat_max} | $static->{lat_max} | |
| Errors | ${\ $errors->($stack)} | ${\ $errors->($static)} | |

## Resource Usage

Sampled right after the run over the web server's and every responder
process. PSS shares pages common to several processes among them, so
the sum counts each page once; the RSS sum counts shared pages in every process.

| Metric | Value |
| --- | --- |
| Memory Usage | ${\ mib($res->{pss_kib})} (PSS sum) |
| Memory Usage (RSS sum) | ${\ mib($res->{rss_kib})} |
| Memory Limit | none (host: ${\ mib($meta->{mem_total_kib})}) |
| Memory % | $mem_pct |
| CPU % | ${\ sprintf('%.1f%%', $cpu)} (average over the run, 100% = one core) |
| CPU per request, µs | front ${\ us($per->{front})}, responder ${\ us($per->{responder})}, database ${\ us($per->{database})}, wrk ${\ us($per->{load})} (user + system time over the run / requests completed) |
| Other processes' CPU % | $others (during this run / the static one; near 0 for comparable figures) |
| PIDs | $res->{pids} |

## Raw Output

```
$stack->{raw}```

Static ceiling (`wrk -t $meta->{threads} -c $meta->{connections} -d $meta->{duration} --latency $static_url`):

```
$static->{raw}```
MD
	return $md;
}

# One row of the benchmark README's summary tables, padded as they are.
sub summary_row {
	my ($meta, $stack, $res) = @_;
	my $rps = commas($stack->{rps}) . ($stack->{errors} ? '\*' : '');
	return sprintf('| %-30s | %-4s | %-10s | %-11s | %-11s | %-14s | %-12s | %-8s |',
		$meta->{name}, $meta->{port}, $rps, $stack->{lat_avg}, $stack->{lat_max},
		commas($stack->{requests}), $stack->{transfer}, mib($res->{pss_kib}));
}

sub report_run {
	my ($run, $out) = @_;
	my $meta = read_pairs("$run/meta");
	my (@json, @table, @rows, @failures);
	for my $e (@ENDPOINTS) {
		my $stack = parse_wrk("$run/$e->{key}.stack.wrk");
		my $static = parse_wrk("$run/$e->{key}.static.wrk");
		my $res = read_pairs("$run/$e->{key}.stack.after");
		my $before = read_pairs("$run/$e->{key}.stack.before");
		my $static_res = read_pairs("$run/$e->{key}.static.after");
		my $ratio = $static->{rps} > 0 ? $stack->{rps} / $static->{rps} : 0;
		my $cpu = cpu_percent($before, $res, $meta);
		my $other = other_cpu_percent("$run/$e->{key}.stack.before", "$run/$e->{key}.stack.after", $meta);
		my $static_other = other_cpu_percent("$run/$e->{key}.static.before", "$run/$e->{key}.static.after", $meta);
		my $per = cpu_per_request($run, $e, $meta, $stack->{requests});
		for ([ 'the stack', $other ], [ 'the static server', $static_other ]) {
			my ($who, $share) = @$_;
			printf STDERR "bench: warning: other processes kept %.0f%% of a core busy during GET %s on %s: "
				. "these figures are not comparable with another run's\n", $share, $e->{path}, $who
				if defined $share && $share > $OTHER_CPU_LIMIT;
		}
		for ([ 'the stack', $stack ], [ 'the static server', $static ]) {
			my ($who, $r) = @$_;
			if ($r->{requests} == 0) {
				push @failures, "GET $e->{path} on $who: no request completed";
			} elsif ($r->{errors} > $ERROR_LIMIT * $r->{requests}) {
				push @failures, sprintf('GET %s on %s: %d errors in %d requests (%.2f%%; limit %g%%): %d non-2xx, %d socket errors',
					$e->{path}, $who, $r->{errors}, $r->{requests}, 100 * $r->{errors} / $r->{requests},
					100 * $ERROR_LIMIT, $r->{non2xx}, $r->{socket_errors});
			}
		}
		spew("$out/$e->{file}", endpoint_markdown($meta, $e, $stack, $static, $res, $ratio, $cpu, $other, $static_other, $per));
		push @json, $e->{key} => obj(
			path => $e->{path},
			rps => 0 + $stack->{rps},
			static_rps => 0 + $static->{rps},
			ratio => round($ratio, 4),
			avg_ms => round(ms($stack->{lat_avg}), 3),
			p99_ms => round(ms($stack->{p99}), 3),
			max_ms => round(ms($stack->{lat_max}), 3),
			errors => $stack->{errors},
			non2xx => $stack->{non2xx},
			socket_errors => $stack->{socket_errors},
			requests => 0 + $stack->{requests},
			transfer_per_sec => $stack->{transfer},
			pss_kib => 0 + $res->{pss_kib},
			rss_kib => 0 + $res->{rss_kib},
			pids => 0 + $res->{pids},
			cpu_percent => $cpu,
			cpu_us_per_request => obj(map { $_ => $per->{$_} } @CLASSES),
			other_cpu_percent => $other,
			workers => 0 + $meta->{workers},
			backends => 0 + $meta->{backends},
			database => database_kind($meta->{database_url}),
			static_avg_ms => round(ms($static->{lat_avg}), 3),
			static_p99_ms => round(ms($static->{p99}), 3),
			static_max_ms => round(ms($static->{lat_max}), 3),
			static_errors => $static->{errors},
			static_requests => 0 + $static->{requests},
			static_pss_kib => 0 + $static_res->{pss_kib},
			static_rss_kib => 0 + $static_res->{rss_kib},
			static_other_cpu_percent => $static_other,
		);
		push @table, [ "GET $e->{path}", commas($stack->{rps}), commas($static->{rps}), sprintf('%.3f', $ratio),
			$stack->{lat_avg}, $stack->{p99}, $stack->{lat_max}, $stack->{non2xx}, $stack->{socket_errors},
			mib($res->{pss_kib}), mib($res->{rss_kib}), map { us($per->{$_}) } @CLASSES ];
		push @rows, "$e->{title} (GET $e->{path}):", summary_row($meta, $stack, $res);
	}
	my $json = to_json(obj(
		tested => $meta->{tested},
		name => $meta->{name},
		command => "wrk -t $meta->{threads} -c $meta->{connections} -d $meta->{duration} --latency",
		threads => 0 + $meta->{threads},
		connections => 0 + $meta->{connections},
		duration => $meta->{duration},
		warmup => $meta->{warmup},
		workers => 0 + $meta->{workers},
		backends => 0 + $meta->{backends},
		database => database_kind($meta->{database_url}),
		database_url => $meta->{database_url},
		port => 0 + $meta->{port},
		cpus => 0 + $meta->{cpus},
		front => $meta->{front} // 'lighttpd',
		front_version => $meta->{front_version} // $meta->{lighttpd},
		front_reuse => ($meta->{front_reuse} // 'off') eq 'on' ? JSON::PP::true : JSON::PP::false,
		responder => $meta->{responder},
		@json,
	)) . "\n";
	JSON::PP->new->decode($json);    # dies on a bug here rather than in a reader
	spew("$out/bench.json", $json);

	print "$meta->{name}: ", plural($meta->{workers}, "worker"), " x ", plural($meta->{backends}, "backend"), ", ",
		database_kind($meta->{database_url}), ", wrk -t $meta->{threads} -c $meta->{connections} -d $meta->{duration} ($meta->{tested})\n\n";
	print text_table([ 'endpoint', 'req/s', 'static req/s', 'ratio', 'avg', 'p99', 'max', 'non-2xx', 'socket errors', 'PSS sum', 'RSS sum',
		'front us/req', 'responder us/req', 'database us/req', 'wrk us/req' ], @table);
	print "\n(us/req: CPU time, user and system, per request completed, from /proc/PID/stat over the run)\n";
	print "\nRows for the benchmark's summary tables (Memory: PSS sum):\n";
	print "$_\n" for @rows;
	print "\nWrote $out/HelloWorld.md, $out/Orders.md, $out/bench.json\n";
	if (@failures) {
		print STDERR "bench: errors above 1% of the requests:\n";
		print STDERR "    $_\n" for @failures;
		return 3;
	}
	return 0;
}

# Columns padded to their widest cell; numbers right-aligned.
sub text_table {
	my ($header, @rows) = @_;
	my @width = map { length } @$header;
	for my $row (@rows) {
		$width[$_] = length($row->[$_]) > $width[$_] ? length($row->[$_]) : $width[$_] for 0 .. $#$row;
	}
	my $line = sub {
		my ($row) = @_;
		return join('  ', map {
			my $cell = $row->[$_];
			$_ == 0 || $cell !~ /^[0-9.,]/ ? sprintf("%-*s", $width[$_], $cell) : sprintf("%*s", $width[$_], $cell)
		} 0 .. $#$row) =~ s/\s+$//r . "\n";
	};
	return join('', $line->($header), map { $line->($_) } @rows);
}

sub markdown_table {
	my ($header, @rows) = @_;
	my $md = '| ' . join(' | ', @$header) . " |\n";
	$md .= '|' . join('|', map { $_ == 0 ? ' --- ' : ' ---: ' } 0 .. $#$header) . "|\n";
	$md .= '| ' . join(' | ', @$_) . " |\n" for @rows;
	return $md;
}

sub report_sweep {
	my ($param, $out, @runs) = @_;
	my (@rows, @tsv, @json, $first);
	for my $run (@runs) {
		my ($value, $dir) = split /=/, $run, 2;
		my $text = slurp("$dir/bench.json");
		my $bench = JSON::PP->new->decode($text);
		$first //= $bench;
		my ($h, $o) = @$bench{qw(hello orders)};
		my $pss = $h->{pss_kib} > $o->{pss_kib} ? $h->{pss_kib} : $o->{pss_kib};
		my $errors = $h->{errors} + $o->{errors};
		# The worst of the four measured runs: one busy neighbour spoils the row.
		my ($others) = sort { $b <=> $a } map { $_ // 0 }
			@$h{qw(other_cpu_percent static_other_cpu_percent)}, @$o{qw(other_cpu_percent static_other_cpu_percent)};
		push @rows, [ $value, commas(sprintf('%.0f', $h->{rps})), commas(sprintf('%.0f', $h->{static_rps})), sprintf('%.3f', $h->{ratio}),
			commas(sprintf('%.0f', $o->{rps})), commas(sprintf('%.0f', $o->{static_rps})), sprintf('%.3f', $o->{ratio}),
			sprintf('%.2f', $h->{p99_ms}), sprintf('%.2f', $o->{p99_ms}), sprintf('%.1f', $pss / 1024), $errors, sprintf('%.0f', $others),
			map { my $per = $_->{cpu_us_per_request} // {}; join(' / ', map { us($per->{$_}) } @CLASSES) } $h, $o ];
		push @tsv, join("\t", $value, $h->{rps}, $h->{static_rps}, $h->{ratio}, $o->{rps}, $o->{static_rps}, $o->{ratio},
			$h->{p99_ms}, $o->{p99_ms}, round($h->{pss_kib} / 1024, 2), round($o->{pss_kib} / 1024, 2), $errors, $others,
			map { my $per = $_->{cpu_us_per_request} // {}; map { $per->{$_} // '' } @CLASSES } $h, $o);
		push @json, obj(value => 0 + $value, bench => raw($text));
	}
	my @header = ($param, 'GET / req/s', 'static', 'ratio', 'GET /orders req/s', 'static', 'ratio',
		'GET / p99 ms', '/orders p99 ms', 'PSS MiB', 'errors', "others' CPU %",
		'GET / CPU us/req (front / responder / database / wrk)', '/orders CPU us/req (the same)');
	my $fixed = join(', ', map { "$_ $first->{$_}" } grep { $_ ne $param } qw(workers backends connections));
	my $what = "$first->{name}: wrk -t $first->{threads} -d $first->{duration}, $fixed, $first->{database}, $first->{tested}";
	my $md = "# Sweep over $param\n\n$what\n\n" . markdown_table(\@header, @rows)
		. "\nEach row is a full `scripts/bench` run (stack restarted, static ceiling measured again);\n"
		. "ratio = req/s / static req/s of the same run; PSS MiB = the larger PSS sum of the two samples;\n"
		. "others' CPU % = the most that other processes kept busy (100 = one core) during one of the\n"
		. "row's four measurements: above $OTHER_CPU_LIMIT the row is not comparable with the others;\n"
		. "CPU us/req = user and system time of each class of processes over the run per request completed\n"
		. "(\"-\": no such process here, e.g. no local database server).\n";
	spew("$out/sweep.md", $md);
	spew("$out/sweep.tsv", join("\t", $param, qw(hello_rps hello_static_rps hello_ratio orders_rps orders_static_rps orders_ratio
		hello_p99_ms orders_p99_ms hello_pss_mib orders_pss_mib errors others_cpu_percent),
		map { my $e = $_; map { "${e}_${_}_cpu_us" } @CLASSES } qw(hello orders)) . "\n" . join('', map { "$_\n" } @tsv));
	my $json = to_json(obj(param => $param, runs => \@json)) . "\n";
	JSON::PP->new->decode($json);
	spew("$out/sweep.json", $json);
	print "Sweep over $param ($what)\n\n", text_table(\@header, @rows);
	print "\nWrote $out/sweep.md, $out/sweep.tsv, $out/sweep.json (each run: $out/sweep/$param-VALUE/)\n";
	return 0;
}

my $mode = shift(@ARGV) // '';
if ($mode eq 'run' && @ARGV == 2) {
	exit report_run(@ARGV);
} elsif ($mode eq 'sweep' && @ARGV >= 3) {
	exit report_sweep(@ARGV);
} elsif ($mode eq 'procs' && !@ARGV) {
	exit print_procs();
}
die "usage: report.pl run RUN_DIR OUT_DIR | report.pl sweep PARAM OUT_DIR VALUE=DIR... | report.pl procs\n";
