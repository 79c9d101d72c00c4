"""A condensed Richards scheduler benchmark: method calls, attribute access, branches."""


class Packet:
    __slots__ = ("link", "ident", "kind", "datum", "data")

    def __init__(self, link, ident, kind):
        self.link, self.ident, self.kind, self.datum, self.data = link, ident, kind, 0, [0] * 4


class Task:
    def __init__(self, ident, prio, queue, sched):
        self.ident, self.prio, self.queue, self.sched = ident, prio, queue, sched
        self.held = False
        self.count = 0

    def run(self, packet):
        self.count += 1
        if packet is not None:
            packet.datum = (packet.datum + self.ident) % 26
            packet.data[packet.datum % 4] += 1
            return self.sched.send(packet, (self.ident + 1) % len(self.sched.tasks))
        return None


class Scheduler:
    def __init__(self, n):
        self.tasks = []
        for i in range(n):
            self.tasks.append(Task(i, i % 3, [], self))
        self.steps = 0

    def send(self, packet, dest):
        self.tasks[dest].queue.append(packet)
        return packet

    def schedule(self, rounds):
        for _ in range(rounds):
            for task in sorted(self.tasks, key=lambda t: t.prio, reverse=True):
                self.steps += 1
                packet = task.queue.pop() if task.queue else None
                task.run(packet)


sched = Scheduler(10)
for i in range(10):
    sched.tasks[i].queue.append(Packet(None, i, i % 2))
sched.schedule(30_000)
assert sched.steps == 300_000
