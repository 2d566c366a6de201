# CRI (Kubernetes) part of check-clients.sh (sourced; uses its t, t_rc, tty_t, cgval, wait_for,
# result, RT, P, IMG, CC).
#
# containerd's CRI plugin, driven by crictl as the kubelet drives it: a containerd of its own
# (root, state, sockets, CNI config and IPAM data under $CC/cri) with two runtime handlers of type
# io.containerd.runc.v2: "hako" (BinaryName = the runtime under test) and "runc" (the control).
# docs/kubernetes.md shows the same configuration.
#
# The host's network is never touched: containerd runs in a network namespace of its own
# (unshare --net), so the CNI bridge (hakotest0, 10.231.7.0/24, bridge + host-local + loopback),
# its veths and the ip_forward the bridge plugin turns on all live there and go away with it.
# crictl runs in that namespace too (nsenter --net), since streaming exec connects to containerd's
# stream server on 127.0.0.1. Pod network namespaces are pinned under containerd's state dir.
# Checks, per handler: a pod sandbox and two containers sharing its network; sync, streaming,
# interactive and tty exec; a burst of quick sync execs (`crictl exec -s ID true`, what a
# kubelet exec probe sends) under two busy loops, every one of which must return; limits seen in
# the cgroup from the host and from inside; stats; logs; a failing container's exit code;
# stop/rm/stopp/rmp, and nothing left. CRI_BURST (default 200) execs with hako, CRI_BURST_CONTROL
# (default 50) with runc; CONTROL=0 skips the runc handler.

CRI=$CC/cri
CRI_SOCK=$CRI/containerd.sock
CRI_CONF=$CRI/config.toml
CRI_PIDF=$CRI/containerd.pid
CRI_CGP=hako-test-cri
CRI_BRIDGE=hakotest0
CRI_SUBNET=10.231.7.0/24
PAUSE_IMG=localhost/hako-test-pause:1
CRI_PID=""
HOGS=()

for d in /var/lib/cni /run/netns /var/run/netns; do [ -e "$d" ] && pre_existing+=("$d"); done

stop_hogs() { local h; for h in "${HOGS[@]}"; do kill_by_cmdline "$h" "while :; do :; done"; done; HOGS=(); }
cri_cleanup() {
  local pid c p
  stop_hogs
  pid=${CRI_PID:-$(cat $CRI_PIDF 2>/dev/null)}
  if [ -n "$pid" ] && [ -S $CRI_SOCK ] && [ -r /proc/$pid/cmdline ] && tr '\0' ' ' < /proc/$pid/cmdline | grep -q -- "--config $CRI_CONF"; then
    local CC_=(timeout 30 nsenter --net=/proc/$pid/ns/net crictl --config $CRI/crictl.yaml)
    for c in $("${CC_[@]}" ps -aq 2>/dev/null); do "${CC_[@]}" rm -f "$c" >/dev/null 2>&1; done
    for p in $("${CC_[@]}" pods -q 2>/dev/null); do "${CC_[@]}" stopp "$p" >/dev/null 2>&1; "${CC_[@]}" rmp -f "$p" >/dev/null 2>&1; done
  fi
  kill_by_cmdline "$pid" "containerd --config $CRI_CONF"
  reap_shims "$CRI_SOCK"
  rm -f $CRI_PIDF $CRI_SOCK $CRI_SOCK.ttrpc; CRI_PID=""
  # pod network namespaces pinned under the state dir: unmounted by rmp; a killed run leaves them
  for p in $CRI/state/io.containerd.grpc.v1.cri/netns/*; do [ -e "$p" ] && { umount "$p" 2>/dev/null; rm -f "$p"; }; done
  local r d
  for r in "${cg_roots[@]}"; do
    for d in "$r/$CRI_CGP"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    [ -d "$r/$CRI_CGP" ] && rmdir "$r/$CRI_CGP" 2>/dev/null
  done
  # libcni's result cache (/var/lib/cni/results/NETWORK-ID-IF): ours only, then the dirs if this run made them
  for p in /var/lib/cni/results/hako-test-cri-*-eth0; do
    [ -e "$p" ] || continue
    c=${p#/var/lib/cni/results/hako-test-cri-}; rm -f "$p" "/var/lib/cni/results/cni-loopback-${c%-eth0}-lo"
  done
  existed /var/lib/cni || { rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null; }
  return 0
}
CLEANUPS+=(cri_cleanup)
cri_cleanup   # leftovers of an interrupted earlier run

# ---------------------------------------------------------------- config, images
mkdir -p $CRI/cni/net.d $CRI/logs
cat > $CRI/cni/net.d/10-hako-test.conflist <<EOF
{
  "cniVersion": "1.0.0",
  "name": "hako-test-cri",
  "plugins": [
    { "type": "bridge", "bridge": "$CRI_BRIDGE", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$CRI_SUBNET" }]],
                "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$CRI/cni/ipam" } },
    { "type": "loopback" }
  ]
}
EOF
cat > $CRI_CONF <<EOF
version = 2
root = "$CRI/root"
state = "$CRI/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "$CRI_SOCK"
[ttrpc]
  address = "$CRI_SOCK.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CRI/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$PAUSE_IMG"
    # CRI gives the sandbox oom_score_adj -998; lowering it needs CAP_SYS_RESOURCE
    restrict_oom_score_adj = true
    disable_apparmor = true
    netns_mounts_under_state_dir = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$CRI/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          Root = "$CRI/runc-root"
          SystemdCgroup = false
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hako.options]
          BinaryName = "$RT"
          Root = "$CRI/hako-root"
          SystemdCgroup = false
EOF
cat > $CRI/crictl.yaml <<EOF
runtime-endpoint: unix://$CRI_SOCK
image-endpoint: unix://$CRI_SOCK
timeout: 60
debug: false
EOF

# images: the busybox image and a pause image (sh waiting for a signal, user 65535), as docker archives
if [ ! -s $CC/bbox-docker.tar ]; then
  "${P[@]}" save --format docker-archive -o $CC/bbox-docker.tar.tmp $IMG >/dev/null 2>&1 && mv $CC/bbox-docker.tar.tmp $CC/bbox-docker.tar
fi
if [ ! -s $CC/pause-docker.tar ]; then
  tar -C $CC/rootfs -c . | "${P[@]}" import --change 'USER 65535:65535' \
    --change 'ENTRYPOINT ["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]' - $PAUSE_IMG >/dev/null 9>&- &&
  "${P[@]}" save --format docker-archive -o $CC/pause-docker.tar.tmp $PAUSE_IMG >/dev/null 2>&1 && mv $CC/pause-docker.tar.tmp $CC/pause-docker.tar
fi

# ---------------------------------------------------------------- containerd in a network namespace of its own
unshare --net sh -c 'ip link set lo up && exec "$0" "$@"' containerd --config $CRI_CONF > $WORK/cri-containerd.log 2>&1 9>&- &
CRI_PID=$!; echo $CRI_PID > $CRI_PIDF
CRIC=(nsenter --net=/proc/$CRI_PID/ns/net crictl --config $CRI/crictl.yaml)
CRCTR=(ctr --address $CRI_SOCK -n k8s.io)
CRI_OK=0
if wait_for '"${CRIC[@]}" info' && [ "$(tr '\0' ' ' < /proc/$CRI_PID/cmdline)" = "containerd --config $CRI_CONF " ]; then
  result 0 cri/start
  CRI_OK=1
  for a in bbox pause; do
    t cri/image-import-$a 'unpacking|done' "${CRCTR[@]}" images import $CC/$a-docker.tar || CRI_OK=0
  done
  t cri/images "^${PAUSE_IMG%:*} +${PAUSE_IMG##*:} "$'\n'"^localhost/bbox +latest " "${CRIC[@]}" images
else
  result 1 cri/start "see $WORK/cri-containerd.log"
fi

# a field of crictl's JSON output: crij ARGS... -- JQ_FILTER
crij() {
  local a=("$@") f j; f=${a[-1]}; unset 'a[-1]'; unset 'a[-1]'
  # crictl (urfave/cli) takes flags only before the arguments
  j=$(timeout $T "${CRIC[@]}" "${a[0]}" -o json "${a[@]:1}" 2>$WORK/crij.err) || { echo "crictl ${a[*]}: $(cat $WORK/crij.err)"; return 1; }
  jq -r "$f" <<<"$j" || { echo "crictl ${a[*]} -o json printed: $(head -c 300 <<<"$j")"; return 1; }
}

cri_checks() {  # cri_checks PREFIX HANDLER BURST
  local p=$1 h=$2 burst=$3 d=$CRI/run-$2 pod c1 c2 c3 c4 pid ip1 ns1 ns2 i ok failed start
  rm -rf $d; mkdir -p $d
  cat > $d/pod.json <<EOF
{ "metadata": { "name": "cc-pod-$h", "namespace": "hako-test", "uid": "cc-pod-$h-uid", "attempt": 0 },
  "hostname": "cc-pod-$h", "log_directory": "$CRI/logs/$h",
  "linux": { "cgroup_parent": "/$CRI_CGP" } }
EOF
  cat > $d/c1.json <<EOF
{ "metadata": { "name": "c1" }, "image": { "image": "$IMG" },
  "command": ["sh", "-c", "echo c1-out; echo c1-err >&2; exec sleep 1000"], "log_path": "c1.log",
  "linux": { "resources": { "memory_limit_in_bytes": 67108864, "cpu_shares": 512, "cpu_period": 100000, "cpu_quota": 50000 } } }
EOF
  cat > $d/c2.json <<EOF
{ "metadata": { "name": "c2" }, "image": { "image": "$IMG" }, "command": ["sleep", "1000"], "log_path": "c2.log" }
EOF
  cat > $d/c3.json <<EOF
{ "metadata": { "name": "c3" }, "image": { "image": "$IMG" }, "command": ["sh", "-c", "echo failing; exit 3"], "log_path": "c3.log" }
EOF
  cat > $d/c4.json <<EOF
{ "metadata": { "name": "c4" }, "image": { "image": "$IMG" }, "log_path": "c4.log",
  "command": ["sh", "-c", "sleep 1; busybox dd if=/dev/zero of=/dev/null bs=32M count=1"],
  "linux": { "resources": { "memory_limit_in_bytes": 8388608 } } }
EOF
  t $p/runp '^[0-9a-f]{64}$' "${CRIC[@]}" runp --runtime $h $d/pod.json || return
  pod=$(tail -1 "$WORK/out/${p//\//_}_runp.txt")
  t $p/pod-ready "\"state\": \"SANDBOX_READY\"" "${CRIC[@]}" inspectp $pod
  t $p/pod-ip "^${CRI_SUBNET%.*}\\.[0-9]+\$" crij inspectp $pod -- .status.network.ip
  t $p/create-c1 '^[0-9a-f]{64}$' "${CRIC[@]}" create $pod $d/c1.json $d/pod.json &&
    c1=$(tail -1 "$WORK/out/${p//\//_}_create-c1.txt")
  t $p/create-c2 '^[0-9a-f]{64}$' "${CRIC[@]}" create $pod $d/c2.json $d/pod.json &&
    c2=$(tail -1 "$WORK/out/${p//\//_}_create-c2.txt")
  if [ -n "${c1:-}" ] && [ -n "${c2:-}" ] && t $p/start-c1 '' "${CRIC[@]}" start $c1 && t $p/start-c2 '' "${CRIC[@]}" start $c2; then
    t $p/c1-running '^CONTAINER_RUNNING$' crij inspect $c1 -- .status.state
    pid=$(crij inspect $c1 -- .info.pid)
    # the two containers share the pod's network namespace, whose eth0 has the pod's IP
    ns1=$(timeout $T "${CRIC[@]}" exec -s $c1 busybox readlink /proc/self/ns/net 2>/dev/null)
    ns2=$(timeout $T "${CRIC[@]}" exec -s $c2 busybox readlink /proc/self/ns/net 2>/dev/null)
    if [ -n "$ns1" ] && [ "$ns1" = "$ns2" ]; then result 0 $p/shared-netns; else result 1 $p/shared-netns "c1 '$ns1', c2 '$ns2'"; fi
    ip1=$(crij inspectp $pod -- .status.network.ip)
    t $p/eth0-has-pod-ip "inet addr:$ip1 " "${CRIC[@]}" exec -s $c2 busybox ifconfig eth0
    t $p/exec-sync '^hello$' "${CRIC[@]}" exec -s $c1 echo hello
    # crictl exits 1 and names the command's status
    t_rc $p/exec-sync-exit-code 1 'exited with 4' "${CRIC[@]}" exec -s $c1 sh -c 'exit 4'
    t $p/exec-stream $'^streamed$\n^c1-user 0$' "${CRIC[@]}" exec $c1 sh -c 'echo streamed; echo c1-user $(id -u)'
    t_rc $p/exec-stream-exit-code 1 'exit code 5' "${CRIC[@]}" exec $c1 sh -c 'exit 5'
    t $p/exec-interactive '^piped-in$' sh -c 'echo piped-in | timeout '$T' "$@" exec -i '$c1' cat' sh "${CRIC[@]}"
    tty_t $p/exec-tty '/dev/pts/[0-9]+' "${CRIC[@]}" exec -i -t $c1 busybox tty
    # limits: from the host (the container's cgroup) and from inside
    t $p/limits-host-memory '^67108864$' cgval "$pid" memory memory.limit_in_bytes memory.max
    if [ $CGV = 1 ]; then
      t $p/limits-host-cpu $'^512$' cgval "$pid" cpu cpu.shares cpu.weight
      t $p/limits-host-cpu-quota $'^50000$' cgval "$pid" cpu cpu.cfs_quota_us cpu.max
      t $p/limits-inside '^67108864$' "${CRIC[@]}" exec -s $c1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    else
      t $p/limits-host-cpu-quota $'^50000 100000$' cgval "$pid" cpu cpu.cfs_quota_us cpu.max
      t $p/limits-inside '^67108864$' "${CRIC[@]}" exec -s $c1 cat /sys/fs/cgroup/memory.max
    fi
    # UpdateContainerResources (the kubelet's CPU manager, in-place resize): containerd sends the
    # container's whole linux.resources, device rules included
    t $p/update '' "${CRIC[@]}" update --memory 100000000 --cpu-share 256 $c1 &&
      t $p/update-visible-memory '^99999744$' cgval "$pid" memory memory.limit_in_bytes memory.max
    [ $CGV = 1 ] && t $p/update-visible-cpu '^256$' cgval "$pid" cpu cpu.shares cpu.weight
    t $p/stats '^[1-9][0-9]*$' crij stats --id $c1 -- '.stats[0].memory.workingSetBytes.value'
    t $p/stats-table "^${c1:0:13} " "${CRIC[@]}" stats --id $c1
    t $p/logs $'^c1-out\n^c1-err' "${CRIC[@]}" logs $c1
    # the burst: quick sync execs under two busy loops; each must return (20 s each at most)
    timeout 600 sh -c 'while :; do :; done' & HOGS+=($!)
    timeout 600 sh -c 'while :; do :; done' & HOGS+=($!)
    ok=0; failed=""; start=$SECONDS
    for i in $(seq 1 $burst); do
      if timeout 20 "${CRIC[@]}" exec -s --timeout 15 $c1 true >/dev/null 2>$d/burst.err; then ok=$((ok+1))
      else failed="$failed #$i(rc=$?: $(head -c 120 $d/burst.err | tr '\n' ' '))"; [ ${#failed} -gt 600 ] && break; fi
    done
    stop_hogs
    echo "burst $h: $ok of $burst quick execs returned in $((SECONDS-start)) s"
    if [ $ok = $burst ]; then result 0 $p/exec-burst-$burst; else result 1 $p/exec-burst-$burst "$ok of $burst returned; failed:$failed"; fi
    t $p/exec-after-burst '^ok$' "${CRIC[@]}" exec -s $c1 echo ok
  fi
  # a failing container: its exit code and its log
  if t $p/create-c3 '^[0-9a-f]{64}$' "${CRIC[@]}" create $pod $d/c3.json $d/pod.json; then
    c3=$(tail -1 "$WORK/out/${p//\//_}_create-c3.txt")
    t $p/start-c3 '' "${CRIC[@]}" start $c3
    if wait_for '[ "$(crij inspect $c3 -- .status.state)" = CONTAINER_EXITED ]'; then result 0 $p/c3-exited
    else result 1 $p/c3-exited "state $(crij inspect $c3 -- .status.state)"; fi
    t $p/c3-exit-code '^3$' crij inspect $c3 -- .status.exitCode
    t $p/c3-logs '^failing' "${CRIC[@]}" logs $c3
    t $p/rm-c3 '' "${CRIC[@]}" rm $c3
  fi
  # an OOM-killed container: reason OOMKilled, status 137 (after a second: see docker-checks.sh)
  if t $p/create-c4 '^[0-9a-f]{64}$' "${CRIC[@]}" create $pod $d/c4.json $d/pod.json; then
    c4=$(tail -1 "$WORK/out/${p//\//_}_create-c4.txt")
    t $p/start-c4 '' "${CRIC[@]}" start $c4
    if wait_for '[ "$(crij inspect $c4 -- .status.state)" = CONTAINER_EXITED ]'; then result 0 $p/c4-exited
    else result 1 $p/c4-exited "state $(crij inspect $c4 -- .status.state)"; fi
    t $p/c4-oom-killed '^OOMKilled 137$' crij inspect $c4 -- '"\(.status.reason) \(.status.exitCode)"'
    t $p/rm-c4 '' "${CRIC[@]}" rm $c4
  fi
  [ -n "${c1:-}" ] && t $p/stop-c1 '' "${CRIC[@]}" stop --timeout 2 $c1 &&
    t $p/c1-exited '^CONTAINER_EXITED$' crij inspect $c1 -- .status.state
  [ -n "${c1:-}" ] && t $p/rm-c1 '' "${CRIC[@]}" rm $c1
  [ -n "${c2:-}" ] && t $p/rm-c2-running '' "${CRIC[@]}" rm -f $c2
  t $p/stopp '' "${CRIC[@]}" stopp $pod
  t $p/rmp '' "${CRIC[@]}" rmp $pod
  t $p/nothing-left '^none$' sh -c 'l=$(timeout '$T' "$@" ps -aq; timeout '$T' "$@" pods -q); [ -z "$l" ] && echo none || echo "left: $l"' sh "${CRIC[@]}"
}

if [ "$CRI_OK" = 1 ]; then
  cri_checks cri hako "${CRI_BURST:-200}"
  [ "${CONTROL:-1}" = 1 ] && cri_checks cri-runc runc "${CRI_BURST_CONTROL:-50}"
fi
cri_cleanup
