"""The real tweepy and praw clients against the local fake API servers."""
