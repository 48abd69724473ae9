// SPDX-License-Identifier: GPL-3.0-only
pragma solidity ^0.8.24;

/// A GLM-like ERC-20 for development networks: 18 decimals, symbol tGLM, and a faucet that mints to anyone
/// whose balance is below 400 tGLM (the rule of Golem's testnet mint contract), so a test account can be
/// refilled but no one can mint without bound.
contract TestGLM {
    string public constant name = "Test Golem Network Token";
    string public constant symbol = "tGLM";
    uint8 public constant decimals = 18;

    /// What one faucet call gives.
    uint256 public constant FAUCET_AMOUNT = 1000 ether;
    /// The faucet refuses addresses holding this much or more.
    uint256 public constant FAUCET_MAX_BALANCE = 400 ether;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    error ZeroAddress();
    error FaucetBalanceTooHigh(address account, uint256 balance);

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        // An unlimited approval stays unlimited (as in OpenZeppelin 5): no storage write per transfer.
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert InsufficientAllowance(from, msg.sender, allowed, amount);
            unchecked {
                allowance[from][msg.sender] = allowed - amount;
            }
        }
        _move(from, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    /// Faucet: mints FAUCET_AMOUNT to `to` while its balance is below FAUCET_MAX_BALANCE.
    function mint(address to) public {
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = balanceOf[to];
        if (balance >= FAUCET_MAX_BALANCE) revert FaucetBalanceTooHigh(to, balance);
        totalSupply += FAUCET_AMOUNT;
        unchecked {
            balanceOf[to] = balance + FAUCET_AMOUNT;
        }
        emit Transfer(address(0), to, FAUCET_AMOUNT);
    }

    /// The name Golem's testnet mint contract uses (`create()`), minting to the caller.
    function create() external {
        mint(msg.sender);
    }

    function _move(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        unchecked {
            balanceOf[from] = balance - amount;
            balanceOf[to] += amount;
        }
        emit Transfer(from, to, amount);
    }
}
