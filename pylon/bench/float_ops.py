"""Float arithmetic and object churn (after pyperformance's `float`)."""
from math import cos, sin, sqrt


class Point:
    __slots__ = ("x", "y", "z")

    def __init__(self, i):
        self.x = x = sin(i)
        self.y = cos(i) * 3
        self.z = (x * x) / 2

    def normalize(self):
        norm = sqrt(self.x * self.x + self.y * self.y + self.z * self.z)
        self.x /= norm
        self.y /= norm
        self.z /= norm

    def maximize(self, other):
        self.x = max(self.x, other.x)
        self.y = max(self.y, other.y)
        self.z = max(self.z, other.z)
        return self


points = [Point(i) for i in range(200_000)]
for p in points:
    p.normalize()
best = points[0]
for p in points[1:]:
    best = best.maximize(p)
assert 0.0 < best.x <= 1.0
