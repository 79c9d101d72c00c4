# An unknown scheme reaches the user as a ValueError naming it and the known schemes.
# exit: 1
# stderr-contains: ValueError: unknown id scheme 'snowflake'; the known schemes are: ksuid, nanoid, ulid, uuid7
import ids

ids.generate("snowflake")
