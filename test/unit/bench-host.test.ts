// Pure parts of the bench-host driver and image hygiene: udev rule parsing, the libvirt domain XML.
import { describe, expect, it } from 'vitest';
import { describeReport, parsePersistentNetRules } from '../../lib/images/image-hygiene.ts';
import { domainAlive, domainXml, type LibvirtGuestOptions } from '../../lib/lab/bench-host/libvirt-guest.ts';
import { UndoStack } from '../../lib/runtime/teardown.ts';
import type { HostShell } from '../../lib/lab/bench-host/host-shell.ts';

describe('parsePersistentNetRules', () => {
  it("reads each rule's MAC and NAME, lower-cases MACs, skips comments and other lines", () => {
    const text = [
      '# PCI device 0x1af4:0x1000 (virtio-pci)',
      '# SUBSYSTEM=="net", ATTR{address}=="02:00:00:00:00:09", NAME="eth9"',
      'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:AB:CD:01", ATTR{type}=="1", KERNEL=="eth*", NAME="eth0"',
      'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="52:54:00:ab:cd:02", NAME="eth1"',
      'SUBSYSTEM=="net", ACTION=="add", KERNEL=="eth*", NAME="eth5"',
      '',
    ].join('\n');
    expect(parsePersistentNetRules(text)).toEqual([
      { mac: '52:54:00:ab:cd:01', name: 'eth0' },
      { mac: '52:54:00:ab:cd:02', name: 'eth1' },
    ]);
  });

  it('says what breaks and how to fix it', () => {
    const line = describeReport({
      image: 'x.qcow2',
      filesystem: '/dev/sda1',
      persistentNetRules: true,
      pinned: [{ mac: '02:00:00:00:00:01', name: 'eth0' }],
    });
    expect(line).toMatch(/pins eth0=02:00:00:00:00:01.*eth2, eth3.*Fix: wirelab image fix x\.qcow2/);
    expect(describeReport({ image: 'x.qcow2', filesystem: '/dev/sda1', persistentNetRules: false, pinned: [] })).toMatch(/clean/);
  });
});

describe('domainXml', () => {
  const opts = (over: Partial<LibvirtGuestOptions> = {}): LibvirtGuestOptions => ({
    shell: {} as HostShell,
    uri: 'qemu:///system',
    name: 'wl-123456-guest',
    hostDir: '/tmp/d',
    kernel: '/k/vmlinuz',
    initrd: '/k/initrd.gz',
    append: 'console=ttyS0 quiet',
    disks: [],
    memoryMiB: 256,
    cpus: 1,
    accel: 'auto',
    nics: [
      { bridge: 'br0', mac: '02:AA:00:00:00:01' },
      { bridge: 'br1', mac: '02:aa:00:00:00:02' },
    ],
    ready: { pattern: 'ready', timeoutMs: 1000 },
    stack: new UndoStack('unit'),
    ...over,
  });

  it('is a TCG domain with two virtio bridge NICs, a file console with its target port, ACPI, no relabeling', () => {
    const xml = domainXml(opts(), '/tmp/d/console.log', []);
    expect(xml).toContain("<domain type='qemu'>");
    expect(xml).toContain(
      "<interface type='bridge'><source bridge='br0'/><mac address='02:aa:00:00:00:01'/><model type='virtio'/></interface>",
    );
    expect(xml).toContain("<source bridge='br1'/>");
    expect(xml).toContain("<serial type='file'><source path='/tmp/d/console.log'/><target port='0'/></serial>");
    expect(xml).toContain('<acpi/>');
    expect(xml).toContain("relabel='no'");
    expect(xml).toContain('<on_reboot>destroy</on_reboot>');
    expect(xml.indexOf("bridge='br0'")).toBeLessThan(xml.indexOf("bridge='br1'"));
  });

  it('uses KVM only when asked, attaches overlays in order, and escapes values', () => {
    const xml = domainXml(opts({ accel: 'kvm', append: 'a<b & "c"' }), "/tmp/it's/console.log", ['/o/0.qcow2', '/o/1.qcow2']);
    expect(xml).toContain("<domain type='kvm'>");
    expect(xml).toContain("<source file='/o/0.qcow2'/><target dev='vda' bus='virtio'/>");
    expect(xml).toContain("<source file='/o/1.qcow2'/><target dev='vdb' bus='virtio'/>");
    expect(xml).toContain('<cmdline>a&lt;b &amp; &quot;c&quot;</cmdline>');
    expect(xml).toContain('/tmp/it&apos;s/console.log');
  });
});

describe('domainAlive', () => {
  it('counts every state with a QEMU process as alive, so undo destroys it before undefining', () => {
    for (const state of ['running', 'paused', 'in shutdown', 'pmsuspended', 'blocked', 'idle', 'crashed'])
      expect(domainAlive(state), state).toBe(true);
    for (const state of ['shut off', 'absent']) expect(domainAlive(state), state).toBe(false);
  });
});
