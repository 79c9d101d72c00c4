# decimal (libmpdec) and math give exact, known results.
import decimal
import math
from fractions import Fraction

decimal.getcontext().prec = 50
assert str(decimal.Decimal(1) / decimal.Decimal(7)) == "0.14285714285714285714285714285714285714285714285714"
assert str(decimal.Decimal(2).sqrt())[:22] == "1.41421356237309504880"
assert math.isclose(math.pi, 3.141592653589793)
assert math.factorial(30) == 265252859812191058636308480000000
assert Fraction(1, 3) + Fraction(1, 6) == Fraction(1, 2)
print("decimal ok")
