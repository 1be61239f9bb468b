package org.blockferry.engine.actor;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.Scheduler;
import org.blockferry.engine.cloudstack.Cloud;
import org.blockferry.engine.cloudstack.CloudStackApi;
import org.blockferry.engine.cloudstack.Volume;
import org.blockferry.engine.cloudstack.VolumeDevices;
import org.blockferry.engine.endpoint.DiskLocation;
import org.blockferry.engine.job.DiskState;
import org.blockferry.engine.job.JobSpec;
import org.blockferry.engine.job.JobState;

/**
 * The cutover into CloudStack after a job's final sync, while the job still holds its targets'
 * leases: the guest converted in place if asked (all of its disks together), every volume
 * detached from the node's appliance (verified), and if asked a VM made of them: deployed stopped
 * from a placeholder template, its placeholder ROOT detached and deleted, the job's first disk
 * attached as device 0 and the others in order, started if asked. Each volume is then recorded
 * as handed over to that VM: no later sync writes, detaches or deletes it. Every step is safe to
 * run again after a crash: a VM already created (its id in the job's state) is reused.
 */
final class CloudCutover {
    /** The outcome for the job: the guest conversion's summary (or null) and the created VM (or null). */
    record Result(String conversion, String vmId) {
    }

    /** A step reached: what it is, and the VM's id once it exists. */
    interface Steps {
        void reached(String step, String conversion, String vmId);
    }


    private record Disk(String id, DiskLocation.CloudVolume location, String identity, TargetState.Volume volume) {
    }

    private final JobState state;
    private final JobRuntime runtime;
    private final Scheduler scheduler;
    private final Steps steps;
    private final GuestConverter conversion;

    private CloudCutover(JobState state, JobRuntime runtime, Scheduler scheduler, Steps steps,
                         GuestConverter conversion) {
        this.state = state;
        this.runtime = runtime;
        this.scheduler = scheduler;
        this.steps = steps;
        this.conversion = conversion;
    }

    /** Runs the cutover of {@code state}'s job on a blocking thread. */
    static CompletionStage<Result> run(JobState state, JobRuntime runtime, Scheduler scheduler, Steps steps,
                                       GuestConverter conversion) {
        CloudCutover c = new CloudCutover(state, runtime, scheduler, steps, conversion);
        return CompletableFuture.supplyAsync(() -> {
            try {
                return c.cutOver();
            } catch (IOException e) {
                throw new CompletionException(e);
            }
        }, runtime.copy().blocking());
    }

    private Result cutOver() throws IOException {
        List<Disk> disks = disks();
        Cloud cloud = runtime.clouds().named("target.cloud", state.spec().target().cloud());
        CloudStackApi api = CloudStackApi.open(cloud);
        String converted = state.cutover() == null ? null : state.cutover().conversion();
        if (state.spec().options().convert() && converted == null) {
            converted = convert(disks, cloud);
        }
        for (Disk d : disks) {
            detachFromAppliance(api, cloud, d);
        }
        JobSpec.CreateVm wanted = state.spec().options().createVm();
        if (wanted == null) {
            steps.reached("volumes detached", converted, null);
            return new Result(converted, null);
        }
        String vmId = state.cutover() == null ? null : state.cutover().vmId();
        if (vmId == null) {
            vmId = deploy(api, wanted);
            steps.reached("VM " + vmId + " created (stopped)", converted, vmId);
        }
        replacePlaceholderRoot(api, vmId, disks);
        for (int i = 0; i < disks.size(); i++) {
            Disk d = disks.get(i);
            Volume now = api.volume(d.volume().id()).orElseThrow(() -> new IOException("volume " + d.volume().id()
                    + " of disk " + d.id() + " is gone from the cloud"));
            if (!vmIdEquals(now.virtualMachineId(), vmId)) {
                steps.reached("attaching volume " + now.id() + " to VM " + vmId + (i == 0 ? " as its root" : ""),
                        converted, vmId);
                Map<String, String> params = new LinkedHashMap<>(Map.of("id", now.id(), "virtualmachineid", vmId));
                if (i == 0) {
                    params.put("deviceid", "0");
                }
                api.callAsync("attachVolume", params);
            }
            record(d, new TargetState.VolumeHandedOver(vmId));
        }
        if (wanted.start()) {
            steps.reached("starting VM " + vmId, converted, vmId);
            if (!"Running".equals(api.vmState(vmId))) {
                api.callAsync("startVirtualMachine", Map.of("id", vmId));
            }
        }
        steps.reached("VM " + vmId + (wanted.start() ? " started" : " ready (stopped)"), converted, vmId);
        return new Result(converted, vmId);
    }

    private static boolean vmIdEquals(String a, String b) {
        return a != null && a.equals(b);
    }

    /** The job's disks, in its order, with their volumes as their targets recorded them. */
    private List<Disk> disks() throws IOException {
        List<Disk> out = new ArrayList<>();
        for (JobSpec.Disk spec : state.spec().disks()) {
            DiskState d = state.disk(spec.id());
            DiskLocation.CloudVolume location = (DiskLocation.CloudVolume) DiskLocation.parse("target", d.target());
            String identity = d.identities().target();
            TargetActor.Lineage lineage = TargetQueries.lineage(runtime.peers(), scheduler, state.jobId(),
                    d.identities());
            if (!lineage.writer()) {
                throw new IOException("job " + state.jobId() + " no longer holds the lease of target " + identity);
            }
            if (lineage.volume() == null) {
                throw new IOException("target " + identity + " of disk " + spec.id() + " records no volume");
            }
            out.add(new Disk(spec.id(), location, identity, lineage.volume()));
        }
        return out;
    }

    private String convert(List<Disk> disks, Cloud cloud) throws IOException {
        steps.reached("converting the guest (virt-v2v-in-place)", null, null);
        List<Path> devices = new ArrayList<>();
        for (Disk d : disks) {
            devices.add(VolumeDevices.await(cloud.deviceDir(), d.volume().id(), cloud.deviceTimeout()).toRealPath());
        }
        String summary = conversion.convert(devices, state.spec().vm(), state.jobId());
        steps.reached("guest converted", summary, null);
        return summary;
    }

    /** Detached from this node's appliance if BlockFerry attached it there; one attached by hand stops the cutover. */
    private void detachFromAppliance(CloudStackApi api, Cloud cloud, Disk d) throws IOException {
        if (d.volume().handedTo() != null) {
            return; // a cutover that ran before (this one, before a crash) handed it over
        }
        Volume now = api.volume(d.volume().id()).orElseThrow(() -> new IOException("volume " + d.volume().id()
                + " of disk " + d.id() + " is gone from the cloud"));
        String vm = now.virtualMachineId();
        if (vm == null) {
            if (d.volume().attachedTo() != null) {
                record(d, new TargetState.VolumeDetached());
            }
            return;
        }
        if (!vm.equals(d.volume().attachedTo())) {
            throw new IOException("volume " + now.id() + " of disk " + d.id() + " is attached to VM " + vm
                    + ", which BlockFerry did not attach it to; the cutover leaves it there");
        }
        steps.reached("detaching volume " + now.id() + " from appliance " + vm, null, null);
        api.detachVerified(now.id());
        record(d, new TargetState.VolumeDetached());
    }

    private String deploy(CloudStackApi api, JobSpec.CreateVm wanted) throws IOException {
        steps.reached("creating the VM from placeholder template " + wanted.placeholderTemplate(), null, null);
        Map<String, String> params = new LinkedHashMap<>();
        params.put("serviceofferingid", wanted.serviceOffering());
        params.put("templateid", wanted.placeholderTemplate());
        params.put("zoneid", api.zoneId());
        params.put("name", hostName(state.spec().vm()));
        params.put("displayname", state.spec().vm());
        params.put("startvm", "false");
        if (wanted.networks() != null && !wanted.networks().isEmpty()) {
            params.put("networkids", String.join(",", wanted.networks()));
        }
        JsonNode result = api.callAsync("deployVirtualMachine", params);
        String id = result.path("virtualmachine").path("id").asText("");
        if (id.isEmpty()) {
            throw new IOException("CloudStack deployVirtualMachine: the job's result names no virtualmachine id");
        }
        return id;
    }

    /** A host name CloudStack accepts for the VM: letters, digits and '-', starting with a letter, at most 63. */
    static String hostName(String vm) {
        String name = ("bf-" + vm.replaceAll("[^A-Za-z0-9-]", "-")).replaceAll("-{2,}", "-");
        name = name.length() > 63 ? name.substring(0, 63) : name;
        return name.replaceAll("-+$", "");
    }

    /** The VM's ROOT from the placeholder template goes; the job's root disk takes its place. */
    private void replacePlaceholderRoot(CloudStackApi api, String vmId, List<Disk> disks) throws IOException {
        List<String> ours = disks.stream().map(d -> d.volume().id()).toList();
        for (Volume v : api.volumesOf(vmId)) {
            if ("ROOT".equals(v.type()) && !ours.contains(v.id())) {
                steps.reached("replacing placeholder root volume " + v.id() + " of VM " + vmId, null, vmId);
                api.detachVolume(v.id());
                api.deleteVolume(v.id());
            }
        }
    }

    private void record(Disk d, TargetState.VolumeChange change) throws IOException {
        TargetQueries.recordVolume(runtime.peers(), scheduler, state.jobId(), d.identity(), change);
    }
}
