#!/usr/bin/python3
# systemd's D-Bus face as far as sandtraild asks it (is a restart job queued
# on my unit?), on a private bus: GetUnitByPID, Unit.Job, Job.JobType.  The
# job type is read from JOBFILE at each question ("" for no job), so a test
# stands for `systemctl restart` or `systemctl stop`.  Prints "ready" once it
# owns org.freedesktop.systemd1; each pid asked about goes to stdout.
#   fake_systemd_bus.py BUS_ADDRESS JOBFILE
import sys
from gi.repository import Gio, GLib

XML = """<node>
<interface name="org.freedesktop.systemd1.Manager">
 <method name="GetUnitByPID"><arg type="u" direction="in"/><arg type="o" direction="out"/></method>
</interface>
<interface name="org.freedesktop.systemd1.Unit"><property name="Job" type="(uo)" access="read"/></interface>
<interface name="org.freedesktop.systemd1.Job"><property name="JobType" type="s" access="read"/></interface>
</node>"""
UNIT = "/org/freedesktop/systemd1/unit/sandtraild_2eservice"
JOB = "/org/freedesktop/systemd1/job/7"
address, jobfile = sys.argv[1], sys.argv[2]


def job_type():
    with open(jobfile) as f:
        return f.read().strip()


def call(conn, sender, path, iface, method, params, invocation):
    print("GetUnitByPID", params.unpack()[0], flush=True)
    invocation.return_value(GLib.Variant("(o)", (UNIT,)))


def get_property(conn, sender, path, iface, prop):
    if prop == "Job":
        return GLib.Variant("(uo)", (7, JOB) if job_type() else (0, "/"))
    return GLib.Variant("s", job_type())


info = Gio.DBusNodeInfo.new_for_xml(XML)
conn = Gio.DBusConnection.new_for_address_sync(
    address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
conn.register_object("/org/freedesktop/systemd1", info.interfaces[0], call, None, None)
conn.register_object(UNIT, info.interfaces[1], None, get_property, None)
conn.register_object(JOB, info.interfaces[2], None, get_property, None)
Gio.bus_own_name_on_connection(conn, "org.freedesktop.systemd1", Gio.BusNameOwnerFlags.NONE,
                               lambda *a: print("ready", flush=True), lambda *a: sys.exit("name not acquired"))
GLib.MainLoop().run()
