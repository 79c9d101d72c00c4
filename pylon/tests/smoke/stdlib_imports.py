# The stdlib archive imports broadly: pure-Python modules and built-in C modules.
import argparse, base64, collections, csv, dataclasses, datetime, email.message, enum
import functools, heapq, io, itertools, logging, pathlib, pickle, random, re, statistics
import string, struct, textwrap, tomllib, typing, unittest, urllib.parse, uuid
import xml.etree.ElementTree as ET

assert statistics.mean([1, 2, 3, 4]) == 2.5
assert tomllib.loads('a = 1\n[b]\nc = "d"') == {"a": 1, "b": {"c": "d"}}
assert ET.fromstring("<a><b>x</b></a>").find("b").text == "x"
assert pickle.loads(pickle.dumps({"k": [1, 2]})) == {"k": [1, 2]}
assert base64.b64encode(b"pylon") == b"cHlsb24="
print("stdlib ok")
