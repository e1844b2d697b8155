"""dnspython client for telegen's DNS end-to-end test: one A query over UDP and one over
TCP to SERVER:53. Usage: python dns_client.py SERVER NAME_UDP NAME_TCP"""
import sys

import dns.message
import dns.query

server, name_udp, name_tcp = sys.argv[1], sys.argv[2], sys.argv[3]
r = dns.query.udp(dns.message.make_query(name_udp, "A"), server, timeout=3)
assert any(rr.address == "10.1.2.3" for rrset in r.answer for rr in rrset), r
r = dns.query.tcp(dns.message.make_query(name_tcp, "A"), server, timeout=3)
assert any(rr.address == "10.1.2.3" for rrset in r.answer for rr in rrset), r
