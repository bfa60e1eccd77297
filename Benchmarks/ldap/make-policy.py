#!/usr/bin/python3
"""Writes the benchmark policy as native XML: RULES rules, each with its own filter list of FILTERS
filters (mirrored, one host each, TCP to one port), alternately blocked and permitted.

    make-policy.py RULES FILTERS POLICY_GUID_PREFIX [PORT_OFFSET] > policy.xml

GUIDs are {PREFIX-kkkk-4000-8000-nnnnnnnnnnnn}: PREFIX (8 hex digits) keeps runs apart. PORT_OFFSET
moves the ports of the first filter list only (a change of one child object, for the poll)."""
import sys

rules, filters, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
offset = int(sys.argv[4]) if len(sys.argv) > 4 else 0


def guid(kind, n):
    return "{%s-%04x-4000-8000-%012x}" % (prefix, kind, n)


out = ['<?xml version="1.0" encoding="UTF-8"?>',
       '<policyStore xmlns="urn:ipsecsvc:policy:1" version="1" assignedPolicy="%s">' % guid(1, 0)]
for r in range(rules):
    out.append('  <filterList id="%s" name="List %d" description="">' % (guid(2, r), r))
    for f in range(filters):
        n = r * filters + f
        host = "198.%d.%d.%d" % (18 + (n >> 16) % 2, (n >> 8) & 255, n & 255)
        out.append('    <filter id="%s" description="" mirrored="true" protocol="tcp" destinationPort="%d">'
                   '<source><host address="%s"/></source><destination><me/></destination></filter>'
                   % (guid(3, n), 1024 + n % 60000 + (offset if r == 0 else 0), host))
    out.append('  </filterList>')
for a, action in enumerate(["block", "permit"]):
    out.append('  <filterAction id="%s" name="%s" description="" action="%s" inpass="false" soft="false" '
               'type="standard"/>' % (guid(4, a), action.capitalize(), action))
out.append('  <policy id="%s" name="Benchmark %d rules" description="" pollingIntervalSeconds="3600">'
           % (guid(1, 0), rules))
out.append('    <mainMode id="%s" masterKeyPFS="false" quickModeLimit="0" lifetimeSeconds="28800" '
           'certificateToAccountMapping="false" omitCertificateRequest="false"><securityMethod encryption="3DES" '
           'integrity="SHA1" group="2" quickModeLimit="0" lifetimeKilobytes="0" lifetimeSeconds="28800"/></mainMode>'
           % guid(5, 0))
for r in range(rules):
    out.append('    <rule id="%s" name="Rule %d" description="" filterAction="%s" interface="all" active="true" '
               'defaultResponse="false"><filterListRef filterList="%s"/><kerberos/></rule>'
               % (guid(6, r), r, guid(4, r % 2), guid(2, r)))
out.append('  </policy>')
out.append('</policyStore>')
print("\n".join(out))
