package org.blockferry.engine.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The plan of a sync from areas a change tracker reported (VMware CBT's
 * {@code QueryChangedDiskAreas}): the areas as DATA extents, sorted, overlaps merged, clipped to
 * the disk. For a full sync (areas of changeId {@code *}, i.e. everything allocated) the gaps
 * between them are HOLEs, zeroed on the target; an incremental sync moves the areas only.
 */
public final class ChangedAreaPlan {
    private ChangedAreaPlan() {
    }

    public static DiskPlan of(long capacity, List<ChangedArea> areas, boolean full) {
        List<ChangedArea> sorted = new ArrayList<>(areas);
        sorted.sort(Comparator.comparingLong(ChangedArea::start));
        List<Extent> extents = new ArrayList<>();
        long covered = 0; // end of the last extent
        for (ChangedArea a : sorted) {
            long start = Math.max(a.start(), covered);
            long end = Math.min(a.end(), capacity);
            if (end <= start) {
                continue;
            }
            if (full && start > covered) {
                extents.add(new Extent(covered, start - covered, ExtentKind.HOLE));
            }
            extents.add(new Extent(start, end - start, ExtentKind.DATA));
            covered = end;
        }
        if (full && covered < capacity) {
            extents.add(new Extent(covered, capacity - covered, ExtentKind.HOLE));
        }
        return DiskPlan.of(capacity, extents);
    }
}
