"""Chinese questions about English code: the programming words a question's Chinese terms stand for.

Keyword search compares words, and code is written in English: "从词典里删掉一个词" shares no term
with ``def del_word(self, word)``. For keyword search only, each Chinese programming term of the
question is also searched as the English words code uses for it (删除 -> del, delete, remove;
缓存 -> cache). Identifier terms (ingest/keywords.py) split ``del_word`` into ``del`` and ``word``,
so the two meet. The list is general programming vocabulary, not tuned to any project; dense
search covers what it misses.
"""

from __future__ import annotations

import re
from functools import cache

from ingest.keywords import ASCII_RUN, keyword_tokens

_GLOSSARY = """
删除 删掉 删 移除 去掉: del delete remove
添加 增加 加入 新增: add append insert
缓存: cache
目录 文件夹: dir directory folder
路径: path
文件: file
文件名: filename
加载 载入: load
保存 存储 存盘: save store
读取: read
写入: write
打开: open
关闭: close disable
默认: default
参数: arg args argument param params
选项: option options
配置: config configure settings
环境变量: env environ environment
变量: var variable
版本: version
检查 检测: check
验证 校验: validate verify
错误 报错: error
异常: exception error raise
警告: warn warning
日志: log logging logger
进程: process
线程: thread
并行: parallel
锁: lock
超时: timeout
重试: retry
连接: connect connection
请求: request
响应: response
客户端: client
服务器 服务端: server
端口: port
代理: proxy
下载: download
上传: upload
编码: encode encoding
解码: decode
字符串: str string
列表: list
字典 词典: dict dictionary
数组: array
整数: int integer
类型: type
类: class
函数: func function def
方法: method
模块: module
打包: package build
安装: install setup
依赖: dependency dependencies requires
测试: test tests
命令: command cmd
命令行: cli command
子命令: subcommand group
补全: complete completion
提示: prompt hint
输入: input
输出: output echo
打印: print echo
颜色: color colour style
终端: terminal tty
分词: cut tokenize
词性: pos flag
权重: weight
词频 频率: freq frequency
关键词: keyword keywords tags
停用词: stop_words stopwords
排序: sort sorted
过滤: filter
搜索 查找: search find
匹配: match
替换: replace
分割 切分: split cut
合并: merge join
解析: parse parser
格式化: format
模板: template
回调: callback
装饰器: decorator
上下文: context ctx
标志: flag
展开: expand
转义: escape
引号: quote
换行: newline
初始化: init
实例: instance
迭代: iter iterate
生成器: generator
异步: async
信号: signal
退出: exit
中断: interrupt
取消: cancel
启用 开启: enable
禁用: disable
平台: platform
系统: system os
用户: user
密码: password
权限: permission
隐藏: hidden hide
宽度: width
长度: len length
最大: max
最小: min
随机: random
临时: tmp temp tempfile
压力测试: stress
工作流: workflow
示例 例子: example
概率: prob probability
阻尼: damping
节点: node
图: graph
模式: mode
"""


@cache
def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for line in _GLOSSARY.strip().splitlines():
        chinese, english = line.split(":")
        for word in chinese.split():
            table[word] = tuple(english.split())
    return table


def code_words(question: str) -> list[str]:
    """The English programming words the question's Chinese terms stand for, in order, once each."""
    table = _table()
    found = [e for term in keyword_tokens(question) for e in table.get(term, ())]
    return list(dict.fromkeys(found))


_CJK = re.compile(r"[\u3400-\u9fff]")


def code_query(question: str) -> str | None:
    """A Chinese question as code words it: the identifiers and English words it holds, as written,
    then the English programming words its Chinese terms stand for (``code_words``). The embedder
    matches that to English code far better than the Chinese sentence (bench/report.md, project
    section). None for a question without Chinese, or without any such word: it is searched as asked."""
    if not _CJK.search(question):
        return None
    words = [*ASCII_RUN.findall(question), *code_words(question)]
    return " ".join(dict.fromkeys(words)) or None
