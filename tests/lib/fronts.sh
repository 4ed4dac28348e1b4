# fronts.sh: what the deploy tests share to put a web server in front of responders: nginx in a temp dir.

# start_nginx DIR PORT [USER]: nginx serving DIR/site.conf (a server block
# listening on 127.0.0.1:PORT, e.g. from scripts/deploy/nginx.conf) with the
# stock fastcgi_params beside it; pid, logs and temp files stay in DIR; it is
# stopped on exit. USER makes its workers run as that user, as on a real host.
start_nginx() {
	local dir=$1 port=$2 user_line="" temp_paths="" module
	[[ -n "${3:-}" ]] && user_line="user $3 $3;"
	mkdir -p "$dir/temp"
	cp /etc/nginx/fastcgi_params "$dir/fastcgi_params"
	# nginx-light lacks some modules; naming the temp path of a missing one is an error.
	for module in uwsgi scgi; do
		nginx -V 2>&1 | grep -q "without-http_${module}_module" ||
			temp_paths+="${module}_temp_path \"$dir/temp/$module\";"$'\n'
	done
	cat >"$dir/nginx.conf" <<NGINX
$user_line
worker_processes 1;
pid "$dir/nginx.pid";
error_log "$dir/error.log";
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path "$dir/temp/body";
	fastcgi_temp_path "$dir/temp/fastcgi";
	proxy_temp_path "$dir/temp/proxy";
	$temp_paths
	include "$dir/site.conf";
}
NGINX
	nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' >>"$dir/error.log" 2>&1 </dev/null &
	on_exit "kill -TERM $!"
	wait_for_port 127.0.0.1 "$port" || bail_out "nginx in $dir did not start: $(tail -n 5 "$dir/error.log")"
}
