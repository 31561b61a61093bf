#!/usr/bin/env python3
"""Write a synthetic SUMO FCD XML file with N records (vehicles moving on
straight lines; 200 vehicles per timestep) for `make importbench`."""
import os
import sys

n = int(sys.argv[1])
out = sys.argv[2]
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
per_step = 200
with open(out, "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<fcd-export xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n')
    written, t = 0, 0
    while written < n:
        f.write(f'    <timestep time="{t:.2f}">\n')
        for v in range(min(per_step, n - written)):
            x = (v * 37.0 + t * 11.1) % 5000.0
            y = (v * 53.0 + t * 3.3) % 5000.0
            f.write(f'        <vehicle id="veh{v}" x="{x:.2f}" y="{y:.2f}" angle="90.00" type="DEFAULT_VEHTYPE" '
                    f'speed="11.10" pos="{x:.2f}" lane="e{v}_0" slope="0.00"/>\n')
            written += 1
        f.write('    </timestep>\n')
        t += 1
    f.write('</fcd-export>\n')
