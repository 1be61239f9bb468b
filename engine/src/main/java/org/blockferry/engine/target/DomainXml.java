package org.blockferry.engine.target;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The libvirt domain XML that {@code virt-v2v-in-place -i libvirtxml} reads: the VM's name and
 * every disk, raw, in the VM's order, so that a guest spread over several disks is inspected and
 * converted as one. Block devices are {@code type='block'}, image files {@code type='file'}.
 */
final class DomainXml {
    private DomainXml() {
    }

    static String of(String vmName, List<Path> disks) {
        StringBuilder xml = new StringBuilder()
                .append("<domain type='kvm'>\n")
                .append("  <name>").append(escape(vmName)).append("</name>\n")
                .append("  <memory>1048576</memory>\n")
                .append("  <vcpu>1</vcpu>\n")
                .append("  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n  </os>\n")
                .append("  <features>\n    <acpi/>\n    <apic/>\n    <pae/>\n  </features>\n")
                .append("  <devices>\n");
        for (int i = 0; i < disks.size(); i++) {
            Path disk = disks.get(i).toAbsolutePath();
            boolean block = !Files.isRegularFile(disk);
            xml.append("    <disk type='").append(block ? "block" : "file").append("' device='disk'>\n")
                    .append("      <driver name='qemu' type='raw'/>\n")
                    .append("      <source ").append(block ? "dev" : "file").append("='")
                    .append(escape(disk.toString())).append("'/>\n")
                    .append("      <target dev='").append(scsiName(i)).append("' bus='scsi'/>\n")
                    .append("    </disk>\n");
        }
        return xml.append("  </devices>\n</domain>\n").toString();
    }

    /** sda, sdb, ... sdz, sdaa: the names the disks have in the appliance too. */
    static String scsiName(int index) {
        StringBuilder letters = new StringBuilder();
        for (int n = index + 1; n > 0; n = (n - 1) / 26) {
            letters.insert(0, (char) ('a' + (n - 1) % 26));
        }
        return "sd" + letters;
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")
                .replace("\"", "&quot;");
    }
}
