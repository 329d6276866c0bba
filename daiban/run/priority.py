"""Who gets the CPU first when ``daiban run`` (or the bench) puts everything on one machine.

Apart from ``procs`` so that the command line can show the default without importing the
Temporal client.
"""

from __future__ import annotations

# On one machine the people come first: the worker and the Temporal dev server run this much nicer
# than the API, so that when the machine is short of CPU (a county's rungs all falling due at the
# closing time, a calendar change passed to every open request, a slow hour of the host) the kernel
# gives the API what it asks for first, and the console's pages, lists and queues stay quick. What
# waits is the work behind an answer: a submission or an action needs the worker, so on a saturated
# machine it answers later, and the rungs are recorded a little later. With CPU to spare the
# scheduler gives every idle cycle to the background, and nothing is slower. 0 runs them alike.
BACKGROUND_NICENESS = 10
