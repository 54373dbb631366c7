"""Stories: the copies of one piece of news, in one language or several, grouped.

``shingles`` turns text into the sets that are compared, ``signatures`` into MinHash
signatures, ``lsh`` finds the similar ones among recent signatures, ``seeds`` links a
story to the seed analyses that are its background, and ``clusterer`` decides which
story an article joins and keeps that in the state database.
"""
