# SPDX-License-Identifier: GPL-2.0
#
# The kernel build itself is described in Kbuild; this file only holds the
# commands people type.  `make` builds ksalloc.ko for the running kernel
# (or KDIR=...), `make check` runs every test.

KDIR ?= /lib/modules/$(shell uname -r)/build

.PHONY: all modules modules_install install clean check kunit lint run dma dmabuf bench fuzz soak help

all modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

modules_install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install

# The user-space side: libksalloc (static, shared, header, pkg-config
# file), ksalloc-ctl and its man page.  DESTDIR and PREFIX pass through.
install:
	$(MAKE) -C tools install

clean:
	rm -rf out
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

check:
	scripts/check.sh

kunit:
	scripts/kunit.sh

lint:
	scripts/lint.sh

# DEMO=edu streams from QEMU's edu PCI device by DMA instead of the timer.
run:
	scripts/run.sh $(if $(DEMO),--demo $(DEMO))

# The edu device in every machine of scripts/dma.sh on 6.1, 6.12 and
# 6.12-rt, then plain64 and iommu on the debug kernel (DMA_API_DEBUG).
# DMA_ARGS takes options of scripts/dma.sh instead, e.g. "--kernel 6.12
# --machine numa".
dma:
ifeq ($(DMA_ARGS),)
	status=0; scripts/dma.sh || status=1; \
	scripts/dma.sh --kernel debug --machine plain64 --machine iommu || status=1; \
	exit $$status
else
	scripts/dma.sh $(DMA_ARGS)
endif

# ksalloc's dma-bufs in vgem (DRM PRIME) and vivid (V4L2 capture), on 6.1,
# 6.12 and 6.12-rt, then on the debug kernel (KASAN, DMA_API_DEBUG,
# kmemleak); DMABUF_ARGS names other kernels instead, e.g. "6.12".
dmabuf:
ifeq ($(DMABUF_ARGS),)
	status=0; scripts/dmabuf.sh || status=1; \
	scripts/dmabuf.sh debug || status=1; \
	exit $$status
else
	scripts/dmabuf.sh $(DMABUF_ARGS)
endif

bench:
	scripts/bench.sh

# SECONDS=N sets the length of the pass (default 600); FUZZ_ARGS takes
# more options of scripts/fuzz.sh, e.g. "--share 0 --trinity-calls 1000000".
fuzz:
	scripts/fuzz.sh $(FUZZ_ARGS)

# Not part of "make check".  SOAK_ARGS takes options of scripts/soak.sh,
# e.g. "--kernel debug --ops 10000000".
soak:
	scripts/soak.sh $(SOAK_ARGS)

help:
	@echo 'make            build ksalloc.ko for the running kernel (KDIR=... for another)'
	@echo 'make install    libksalloc, its header and pkg-config file, ksalloc-ctl and its man page (DESTDIR=, PREFIX=)'
	@echo 'make run        boot a 6.12 guest and stream frames through ksalloc (DEMO=edu: from QEMU'"'"'s edu PCI device by DMA)'
	@echo 'make dma        the edu device on 6.1, 6.12, 6.12-rt in 5 machines (IOMMU, swiotlb, NUMA, ...), then on the debug kernel'
	@echo 'make dmabuf     vgem (DRM PRIME) and vivid (V4L2) import ksalloc dma-bufs, on 6.1, 6.12, 6.12-rt, then on the debug kernel'
	@echo 'make check      every test; ends with "N passed, N failed, N skipped"'
	@echo 'make kunit      the KUnit suite alone (UML, lockdep, KASAN, UBSAN)'
	@echo 'make lint       checkpatch, kernel-doc and the uapi header checks'
	@echo 'make fuzz       our ABI fuzzer and trinity on /dev/ksalloc in a 6.12 guest (SECONDS=600)'
	@echo 'make bench      cost per operation (icount) and scaling (2 vCPUs) against kernel baselines'
	@echo 'make soak       10^8 mixed alloc/free pairs on 2 vCPUs of a 6.12 guest, every frame checked (SOAK_ARGS=...)'
