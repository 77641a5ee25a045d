#!/usr/bin/env python3
# kparam.py STAGE: set the swiotlb_cc= paragraph of kernel-parameters.txt
import sys
stage = sys.argv[1]
p = 'Documentation/admin-guide/kernel-parameters.txt'
s = open(p).read()
runtime = {'core': 'more at\n\t\t\trun time.',
           'shrink': 'more at\n\t\t\trun time, given back once idle when the system\n\t\t\tneeds memory.',
           'cma': 'more at\n\t\t\trun time (from the default CMA area, see cma=, when\n\t\t\tmemory has no free 2 MiB block), given back once\n\t\t\tidle when the system needs memory.'}
pol = sys.argv[2] == 'policy' if len(sys.argv) > 2 else False
off = ('"off" converts every DMA allocation on its own instead\n'
       '\t\t\t(the behaviour before this option existed%s).  Any\n'
       '\t\t\tother value is reported and ignored.') % (
       ';\n\t\t\tcc_conversion_align= is then off as well' if pol else '')
body = ('\tswiotlb_cc=\t[X86,EARLY]\n\t\t\tFormat: off\n'
        '\t\t\tOn TDX and SEV-SNP guests, the DMA allocations of all\n'
        '\t\t\tdevices (dma_alloc_coherent() and friends) come from\n'
        '\t\t\tmemory shared with the host in 2 MiB chunks, which\n'
        '\t\t\tare converted once: one below 4 GiB at boot, %s\n'
        '\t\t\t%s\n\n') % (runtime[stage], off)
i = s.find('\tswiotlb_cc=\t[X86,EARLY]\n')
if i < 0:
    i = s.index('\tswitches=\t[HW,M68k,EARLY]')
    j = i
else:
    j = s.index('\tswitches=\t[HW,M68k,EARLY]', i)
s = s[:i] + body + s[j:]
open(p, 'w').write(s)
