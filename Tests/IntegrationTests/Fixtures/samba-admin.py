#!/usr/bin/python3
"""Changes a test domain the way an administrator would, directly on the DC's sam.ldb (Samba's own
modules run: whenChanged, USNs and referential checks behave as over LDAP).

    samba-admin.py SMB_CONF SAM_LDB < COMMANDS

One command per line, fields separated by '|':
    ou|DN                                  an organizational unit
    gpo|{GUID}|DISPLAY NAME|FLAGS          a GPO (groupPolicyContainer with CN=Machine and CN=User)
    link|CONTAINER DN|GPLINK|GPOPTIONS     replace gPLink (empty: remove) and gPOptions (empty: remove)
    assign|{GPO GUID}|POLICY DN            the GPO's IPsec assignment ([MS-GPIPSEC] 2.2.2)
    delete|DN                              delete DN and everything below it
    move|DN|NEW PARENT DN                  move an object (a computer to another OU)
    load|FILE.ldif                         IPsec objects as `ipsecsvc policy convert --format ldif` writes
                                           them; existing objects are modified in place
    deny-read|DN                           Authenticated Users may list DN but not read its attributes
                                           (an explicit deny; what Samba's defaults do to CN=IP Security)
    subnet|CIDR|SITE DN                    a subnet object that puts CIDR in the site
"""
import re
import sys

import ldb
from samba.auth import system_session
from samba.dcerpc import security
from samba.ndr import ndr_pack, ndr_unpack
from samba.param import LoadParm
from samba.samdb import SamDB

ORDER = ["ipsecfilter", "ipsecnegotiationpolicy", "ipsecisakmppolicy", "ipsecnfa", "ipsecpolicy"]
IPSEC_CSE = "[{E437BC1C-AA7D-11D2-A382-00C04F991E27}{DEA8AFA0-CC85-11D0-9CE2-0080C7221EBD}]"


def exists(db, dn):
    try:
        return len(db.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["dn"])) == 1
    except ldb.LdbError:
        return False


def base(db):
    return str(db.get_default_basedn())


def add(db, dn, **attributes):
    message = ldb.Message(ldb.Dn(db, dn))
    for name, value in attributes.items():
        values = value if isinstance(value, list) else [value]
        message[name] = ldb.MessageElement([v.encode() for v in values], ldb.FLAG_MOD_ADD, name)
    db.add(message)


def replace(db, dn, name, values):
    message = ldb.Message(ldb.Dn(db, dn))
    flag = ldb.FLAG_MOD_REPLACE if values else ldb.FLAG_MOD_DELETE
    message[name] = ldb.MessageElement([v.encode() for v in values], flag, name)
    try:
        db.modify(message)
    except ldb.LdbError as error:
        if values or error.args[0] != ldb.ERR_NO_SUCH_ATTRIBUTE:
            raise


def gpo(db, guid, name, flags):
    dn = "CN=%s,CN=Policies,CN=System,%s" % (guid, base(db))
    add(db, dn, objectClass="groupPolicyContainer", displayName=name, flags=flags or "0",
        versionNumber="1", gPCFunctionalityVersion="2", gPCMachineExtensionNames=IPSEC_CSE,
        gPCFileSysPath="\\\\example.test\\sysvol\\example.test\\Policies\\%s" % guid)
    add(db, "CN=Machine," + dn, objectClass="container")
    add(db, "CN=User," + dn, objectClass="container")


def assign(db, guid, policy):
    machine = "CN=Machine,CN=%s,CN=Policies,CN=System,%s" % (guid, base(db))
    for rdn in ("CN=Microsoft,", "CN=Windows,CN=Microsoft,"):
        if not exists(db, rdn + machine):
            add(db, rdn + machine, objectClass="container")
    dn = "CN=IPSEC,CN=Windows,CN=Microsoft," + machine
    if exists(db, dn):
        replace(db, dn, "ipsecOwnersReference", [policy])
    else:
        add(db, dn, objectClass="ipsecPolicy", ipsecOwnersReference=policy, ipsecName="assigned by test",
            description="IPsec assignment")


def load(db, path):
    text = open(path).read()
    if text.startswith("version:"):
        text = text.split("\n", 1)[1].lstrip("\n")

    def rank(message):
        classes = [str(c).lower() for c in message.get("objectClass", [])]
        return next((i for i, name in enumerate(ORDER) if name in classes), len(ORDER))

    messages = sorted((m for _, m in db.parse_ldif(text)), key=rank)
    for message in messages:
        present = exists(db, message.dn)
        change = ldb.Message(message.dn)
        for name in message.keys():
            lower = name.lower()
            if lower in ("dn", "whenchanged", "ipsecownersreference") or (present and lower in ("objectclass", "cn")):
                continue
            flag = ldb.FLAG_MOD_REPLACE if present else ldb.FLAG_MOD_ADD
            change[name] = ldb.MessageElement([bytes(v) for v in message[name]], flag, name)
        (db.modify if present else db.add)(change)
    for message in messages:
        if "ipsecOwnersReference" in message:
            change = ldb.Message(message.dn)
            values = [bytes(v) for v in message["ipsecOwnersReference"]]
            change["ipsecOwnersReference"] = ldb.MessageElement(values, ldb.FLAG_MOD_REPLACE, "ipsecOwnersReference")
            db.modify(change)


def deny_read(db, dn):
    controls = ["sd_flags:1:%d" % security.SECINFO_DACL]
    result = db.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"], controls=controls)
    descriptor = ndr_unpack(security.descriptor, result[0]["nTSecurityDescriptor"][0])
    # The ACE goes after the DACL's flags (D:PAI(…)…): an explicit deny is evaluated first.
    sddl = re.sub(r"D:([A-Z]*)", r"D:\1(D;;RP;;;AU)", descriptor.as_sddl(), count=1)
    new = security.descriptor.from_sddl(sddl, security.dom_sid(db.get_domain_sid()))
    message = ldb.Message(ldb.Dn(db, dn))
    message["nTSecurityDescriptor"] = ldb.MessageElement([ndr_pack(new)], ldb.FLAG_MOD_REPLACE,
                                                         "nTSecurityDescriptor")
    db.modify(message, controls=controls)


def subnet(db, cidr, site):
    configuration = str(db.get_config_basedn())
    add(db, "CN=%s,CN=Subnets,CN=Sites,%s" % (cidr, configuration), objectClass="subnet", siteObject=site)


def main():
    conf, url = sys.argv[1:3]
    lp = LoadParm()
    lp.load(conf)
    db = SamDB(url=url, session_info=system_session(), lp=lp)
    # One transaction for all commands: one sync of the database instead of one per object.
    db.transaction_start()
    try:
        run(db)
    except BaseException:
        db.transaction_cancel()
        raise
    db.transaction_commit()


def run(db):
    for line in sys.stdin:
        fields = line.rstrip("\n").split("|")
        command, args = fields[0], fields[1:]
        if not command:
            continue
        if command == "ou":
            add(db, args[0], objectClass="organizationalUnit")
        elif command == "gpo":
            gpo(db, args[0], args[1], args[2] if len(args) > 2 else "0")
        elif command == "link":
            replace(db, args[0], "gPLink", [args[1]] if args[1] else [])
            replace(db, args[0], "gPOptions", [args[2]] if len(args) > 2 and args[2] else [])
        elif command == "assign":
            assign(db, args[0], args[1])
        elif command == "delete":
            db.delete(args[0], ["tree_delete:1"])
        elif command == "move":
            rdn = args[0].split(",", 1)[0]
            db.rename(args[0], "%s,%s" % (rdn, args[1]))
        elif command == "load":
            load(db, args[0])
        elif command == "deny-read":
            deny_read(db, args[0])
        elif command == "subnet":
            subnet(db, args[0], args[1])
        else:
            sys.exit("unknown command %r" % command)


main()
