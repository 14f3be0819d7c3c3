"""Tests of the built distribution, outside the source tree."""
