#!/bin/sh
# Run by busybox acpid for the ACPI power button (QMP system_powerdown, virsh shutdown):
# say so on the console and power off. Nothing is on disk, so there is nothing to flush.
echo "wirelab-guest: power button pressed, powering off" > /dev/console
poweroff -f
