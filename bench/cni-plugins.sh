#!/bin/sh
# What the CNI plugins themselves cost, without hako: the built-in bridge network's chain (bridge
# with host-local, portmap, firewall, tuning: src/network/config.ts builtinBridge) run by hand as
# the CNI spec says (env + config on stdin, prevResult passed on), ADD then DEL, N times, each
# plugin timed on its own. It bounds what `--network bridge` can cost a start with these plugins
# (bench/net.sh measures hako's whole start). Everything happens inside a network namespace this
# script makes as its "host" (and one per container), removed at the end: the host's network is
# not touched.
# Usage: sudo sh bench/cni-plugins.sh      Environment: N (20)
set -eu
N=${N:-20}
P=/usr/lib/cni
[ "$(id -u)" = 0 ] || { echo "bench/cni-plugins.sh: run as root" >&2; exit 1; }
[ -x $P/bridge ] || { echo "bench/cni-plugins.sh: apt-get install containernetworking-plugins" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench/cni-plugins.sh: needs jq" >&2; exit 1; }
HOSTNS=hako-cni-bench-$$
W=$(mktemp -d /tmp/hako-cni-bench-XXXXXX)
cleanup() { ip netns del $HOSTNS 2>/dev/null || true; ip netns del $HOSTNS-c 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT INT TERM
ip netns add $HOSTNS
ip -n $HOSTNS link set lo up
now() { date +%s%N; }
conf() {  # conf PLUGIN_JSON PREV_RESULT
  jq -c --argjson prev "${2:-null}" '. + {cniVersion: "1.0.0", name: "bench"} + (if $prev == null then {} else {prevResult: $prev} end)' <<EOF2
$1
EOF2
}
BRIDGE='{"type":"bridge","bridge":"hkbench0","isGateway":true,"ipMasq":true,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.77.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"'$W'/ipam"}}'
PORTMAP='{"type":"portmap","capabilities":{"portMappings":true},"snat":true}'
FIREWALL='{"type":"firewall","backend":"iptables"}'
TUNING='{"type":"tuning"}'
for p in bridge portmap firewall tuning; do eval "t_add_$p=0 t_del_$p=0"; done
i=0
while [ $i -lt $N ]; do
  ip netns add $HOSTNS-c
  NETNS=/run/netns/$HOSTNS-c
  prev=null
  for p in bridge portmap firewall tuning; do
    eval "c=\$$(echo $p | tr a-z A-Z)"
    s=$(now)
    prev=$(conf "$c" "$prev" | nsenter --net=/run/netns/$HOSTNS env CNI_COMMAND=ADD CNI_CONTAINERID=bench$i CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_PATH=$P $P/$p)
    e=$(now); eval "t_add_$p=\$((t_add_$p + e - s))"
  done
  for p in tuning firewall portmap bridge; do
    eval "c=\$$(echo $p | tr a-z A-Z)"
    s=$(now)
    conf "$c" "$prev" | nsenter --net=/run/netns/$HOSTNS env CNI_COMMAND=DEL CNI_CONTAINERID=bench$i CNI_NETNS=$NETNS CNI_IFNAME=eth0 CNI_PATH=$P $P/$p >/dev/null
    e=$(now); eval "t_del_$p=\$((t_del_$p + e - s))"
  done
  ip netns del $HOSTNS-c
  i=$((i + 1))
done
total_add=0; total_del=0
echo "CNI plugins of the built-in bridge network, $N ADD+DEL, ms per call (load $(cut -d' ' -f1-3 /proc/loadavg)):"
for p in bridge portmap firewall tuning; do
  eval "a=\$t_add_$p d=\$t_del_$p"
  total_add=$((total_add + a)); total_del=$((total_del + d))
  awk -v p=$p -v a=$a -v d=$d -v n=$N 'BEGIN { printf "  %-9s ADD %6.1f   DEL %6.1f\n", p, a / n / 1e6, d / n / 1e6 }'
done
awk -v a=$total_add -v d=$total_del -v n=$N 'BEGIN { printf "  %-9s ADD %6.1f   DEL %6.1f\n", "chain", a / n / 1e6, d / n / 1e6 }'
