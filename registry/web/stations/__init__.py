"""Veterans service stations in the managers' area (``/manage/stations``): the list with its filters, a station's
page and the edit of its 五有, hours and phone (``pages``, blueprint ``stations``)."""
