#!/usr/bin/env bash
# Regenerates vectors.txt: each block is "# <command>" then the hex of every message
# ovs-ofctl sent (and, for dump-flows, "reply <hex>" lines from ovs-vswitchd 3.1).
# Run as root. Starts its own ovsdb-server + ovs-vswitchd (bridge br0, OpenFlow13, netdev)
# in a private netns and temp dir unless UP=/path/to/br0.mgmt names a running one; stops
# them by pid afterwards.
set -euo pipefail
P=/tmp/ofcap.$$.sock
cd "$(dirname "$0")"
if [ -z "${UP:-}" ]; then
  D=$(mktemp -d /tmp/ofgold.XXXXXX); NS=ofgold$$
  cleanup() {
    for f in "$D/ovs-vswitchd.pid" "$D/ovsdb-server.pid"; do [ -f "$f" ] && kill "$(cat "$f")" || true; done
    sleep 0.5; ip netns del "$NS" 2>/dev/null || true; rm -rf "$D"
  }
  trap cleanup EXIT
  export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVS_SYSCONFDIR=$D
  ip netns add "$NS"; ip netns exec "$NS" ip link set lo up
  ovsdb-tool create "$D/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec "$NS" ovsdb-server "$D/conf.db" --remote=punix:"$D/db.sock" --pidfile="$D/ovsdb-server.pid" \
    --detach --log-file="$D/ovsdb-server.log" --unixctl="$D/ovsdb-server.ctl"
  ip netns exec "$NS" ovs-vsctl --db=unix:"$D/db.sock" --no-wait init
  ip netns exec "$NS" ovs-vswitchd unix:"$D/db.sock" --pidfile="$D/ovs-vswitchd.pid" \
    --detach --log-file="$D/ovs-vswitchd.log" --unixctl="$D/ovs-vswitchd.ctl"
  ip netns exec "$NS" ovs-vsctl --db=unix:"$D/db.sock" add-br br0 -- set bridge br0 \
    datapath_type=netdev protocols=OpenFlow13 fail_mode=secure
  for _ in $(seq 100); do [ -S "$D/br0.mgmt" ] && break; sleep 0.1; done
  UP=$D/br0.mgmt
fi
run() { echo "# ${*//$P/SOCK}"; python3 capture.py $P "$UP" $EXTRA -- "$@" 2>&1 | grep -v '^$' ; }
EXTRA=
{
echo "## $(ovs-ofctl --version | head -1), $(dpkg-query -W -f='openvswitch-common ${Version}' openvswitch-common 2>/dev/null || echo 'package version unknown'); regenerate with tests/golden/gen.sh"
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=100,in_port=3,actions=output:4'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'table=1,priority=200,cookie=0x77,tun_src=1.2.3.4,tun_dst=5.6.7.8,reg3=0x5/0xff,ct_state=+trk-new,ct_zone=3,ct_mark=7,tcp,tp_dst=80,actions=output:2'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'table=0,priority=300,arp,arp_op=1,arp_tpa=10.0.0.1,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:01->eth_src,set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:02:00:00:00:00:01->arp_sha,set_field:10.0.0.1->arp_spa,IN_PORT'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=10,ip,nw_dst=10.0.0.0/24,actions=load:0x5->NXM_NX_REG0[0..15],set_field:0x1234->tun_id,set_field:192.0.2.2->tun_dst,set_field:0x9->reg1,resubmit(,3),resubmit(2,4),ct(commit,zone=5,table=3),dec_ttl,goto_table:5'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=5,ip,nw_src=10.0.0.1,actions=conjunction(7,1/2)'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=6,actions=note:ab.cd,learn(table=5,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[])'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=7,dl_vlan=10,actions=pop_vlan,push_vlan:0x8100,set_field:4106->vlan_vid,write_actions(output:3),write_metadata:0x5/0xff,goto_table:2'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=8,ipv6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::/32,udp,tp_src=53,actions=clear_actions'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'table=10,priority=100,in_port=5,vlan_tci=0x0000/0x1fff,dl_src=02:0c:7e:00:00:01,ip,nw_src=10.244.1.2,actions=goto_table:20'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'priority=100,in_port=12,tun_src=192.0.2.2,tun_id=0x64,actions=set_field:0x1->reg0,goto_table:20'
run ovs-ofctl -O OpenFlow13 add-flow unix:$P 'table=40,priority=100,ip,tun_id=0x64,nw_dst=10.1.2.2,actions=dec_ttl,set_field:0a:0c:7e:00:01:2c->eth_src,set_field:02:00:00:00:00:02->eth_dst,set_field:0x12c->tun_id,output:32'
run ovs-ofctl -O OpenFlow13 mod-flows --strict unix:$P 'priority=100,in_port=3,actions=output:5'
run ovs-ofctl -O OpenFlow13 del-flows --strict unix:$P 'priority=100,in_port=3'
run ovs-ofctl -O OpenFlow13 del-flows unix:$P 'cookie=0x5/-1,table=1'
run ovs-ofctl -O OpenFlow13 add-group unix:$P 'group_id=1,type=all,bucket=output:1,bucket=output:2'
run ovs-ofctl -O OpenFlow13 add-meter unix:$P 'meter=1,kbps,band=type=drop,rate=1000'
run ovs-ofctl -O OpenFlow13 packet-out unix:$P 'in_port=controller packet=ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002 actions=output:1'
printf 'priority=50,in_port=1,actions=output:2\npriority=51,in_port=2,actions=output:1\n' > /tmp/ofcap.$$.flows
run ovs-ofctl -O OpenFlow13 --bundle add-flows unix:$P /tmp/ofcap.$$.flows
EXTRA=--replies
run ovs-ofctl -O OpenFlow13 dump-flows unix:$P
run ovs-ofctl -O OpenFlow13 dump-ports-desc unix:$P
run ovs-ofctl -O OpenFlow13 dump-aggregate unix:$P
} > vectors.txt
rm -f /tmp/ofcap.$$.flows $P
